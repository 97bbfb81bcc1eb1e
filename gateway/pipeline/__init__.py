"""The delivery pipeline: the outbox, Dramatiq broker and actors, the scheduler, the absence ladder,
replies and milestones. The database is the source of truth; the broker carries only ids."""
