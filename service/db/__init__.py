"""Persistence shared by the API and the workers: models, sessions, the job repository."""
