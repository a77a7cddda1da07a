"""Session settings and elective registration (学员点课) with a waitlist."""
