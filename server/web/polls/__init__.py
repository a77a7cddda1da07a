"""Polls and quizzes during a session, the needs survey before a program, feedback after."""
