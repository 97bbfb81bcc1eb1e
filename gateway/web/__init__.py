"""The staff web app and the Twilio webhooks (FastAPI)."""
