"""Running the gateway for real: retention purge, subject-access export, the demo school."""
