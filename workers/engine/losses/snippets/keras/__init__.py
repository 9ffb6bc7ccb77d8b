"""Keras 3 twins of the PyTorch loss snippets one folder up (read as text, never imported).

Each ``<name>.py`` here defines the same ``make_loss(...)`` as its PyTorch twin (same argument
names and defaults: the renderer fills both in from one set of values) and returns a
``keras.losses.Loss`` whose value and gradient are the twin's, to float32 round-off. Rules:

- Imports: ``keras`` (with ``from keras import ops``), ``math``, ``collections``, ``typing``;
  nothing from TensorFlow, JAX or PyTorch: ``keras.ops`` only, so it runs on every backend.
- ``y_pred`` are logits (or raw regression outputs); ``call(y_true, y_pred)`` returns the
  batch's scalar loss exactly as the twin computes it (the losses are not all decomposable
  over rows, so Keras's per-row reduction is not used: a scalar passes through it unchanged).
  Keras casts ``y_true`` to float: class codes are cast back with ``ops.cast(..., "int32")``.
  Binary and regression accept ``(B,)`` or ``(B, 1)`` tensors (``ops.reshape(y, (-1,))``).
- Stateful losses keep their state in non-trainable ``keras.Variable``s read in ``call`` (so a
  compiled step sees updates), expose the twin's ``start_epoch(epoch)`` / ``after_step(lr)``
  for custom loops, and ``callbacks()``: a ``keras.callbacks.Callback`` that calls them from
  ``fit`` (epochs from 1; the optimiser's current learning rate). State the twin updates from
  autograd (dual variables) is updated from its closed-form gradient, kept from the last
  training ``call`` in a variable. A second ``call`` raises ``RuntimeError`` naming the
  missing calls if no hook has run (``fit`` calls the loss once to build the model before any
  callback runs, so the first call cannot tell): ``self.hooked`` is set by ``start_epoch``,
  ``after_step`` and the callback's ``on_train_begin``.
"""
