"""Roll call (点名): start, answer (phone or the site agent), watch, close."""
