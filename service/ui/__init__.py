"""Pages for people: ``/ui`` lists jobs (server-rendered shell, data from the JSON API)."""

from service.ui.jobs_page import router

__all__ = ["router"]
