"""Webhooks (Standard Webhooks v1): signed HTTP POSTs telling a job's owner what happened.

- :mod:`~service.webhooks.targets` checks a URL before anything is stored or sent;
- :mod:`~service.webhooks.signing` makes the ``webhook-*`` headers;
- :mod:`~service.webhooks.outbox` queues a message per subscriber in the transaction that
  changes the job, so an event is recorded exactly when it happens and never blocks the search;
- the workers' dispatcher (:mod:`workers.webhook_dispatcher`) sends what is due, retrying with
  exponential backoff for a bounded time.
"""
