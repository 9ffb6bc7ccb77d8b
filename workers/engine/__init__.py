"""The search engine: a pure library (torch, numpy, optuna, scikit-learn) usable from a notebook.

It imports nothing from the web service, the queue or the ORM.
"""
