"""Uploaded datasets: stored once (by content), profiled, and referenced by jobs as
``dataset:<id>``.

- :mod:`~service.datasets.store` keeps the files (a folder, or any fsspec URL such as S3) and
  gives each process a local copy to read (a cache keyed by the file's SHA-256);
- :mod:`~service.datasets.profile` reads a file in bounded batches: rows, columns, their types,
  missing values and which tasks each column could be the target of;
- :mod:`~service.datasets.references` turns a job's ``dataset:<id>`` into the file it names.
"""
