"""Interview-style Q&A across all sites (访谈式教学): questions, votes, moderation, on air."""
