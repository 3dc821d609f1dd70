"""Static image checks: what a REC or an APP image must (and must not) contain."""
