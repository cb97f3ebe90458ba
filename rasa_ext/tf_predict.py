"""DIET's prediction called through its traced graph directly, not through ``tf.function``.

Rasa 3.6.21's ``RasaModel._rasa_predict`` wraps ``predict_step`` in a
``tf.function`` with a fixed ``input_signature`` (``_dynamic_signature``: every
dimension but the last is ``None``) on the first prediction, then calls that
function for every message. With a fixed signature the function only ever has one
traced graph, yet each call still goes through TensorFlow 2.12's dispatch: the
inputs are canonicalised against the signature and the trace cache is searched
(``_maybe_define_function``), about as much CPU as running the graph itself.

Here, once the ``tf.function`` exists, its one ``ConcreteFunction`` is taken
(``get_concrete_function()``, which with an ``input_signature`` returns the graph
already traced) and called with the batch: the same graph on the same inputs,
converted to the signature's dtypes the same way. Everything else of
``_rasa_predict`` (the first call that builds the function, eager mode, the
conversion to numpy and the diagnostic data) is Rasa's. A test compares both
paths' outputs on the trained model.
"""

from __future__ import annotations

import weakref
from typing import Any

# The concrete function of each model's tf.function (keyed weakly: a reloaded
# model brings its own).
_CONCRETE: weakref.WeakKeyDictionary[Any, tuple[Any, Any]] = weakref.WeakKeyDictionary()

RASA_METHODS: dict[str, Any] = {}


def _concrete_function(model: Any) -> Any:
    step = model._tf_predict_step
    entry = _CONCRETE.get(model)
    if entry is None or entry[0] is not step:
        entry = (step, step.get_concrete_function())
        _CONCRETE[model] = entry
    return entry[1]


def install() -> None:
    """Route ``RasaModel._rasa_predict`` through the concrete function (once)."""
    from rasa.shared.constants import DIAGNOSTIC_DATA
    from rasa.utils.tensorflow import models
    from rasa.utils.tensorflow.models import RasaModel

    # The keras helper Rasa's own _rasa_predict converts the outputs with.
    tf_utils = models.tf_utils

    if RASA_METHODS:
        return
    rasa_predict = RASA_METHODS["_rasa_predict"] = RasaModel._rasa_predict

    def _rasa_predict(self: RasaModel, batch_in: Any) -> Any:
        if self._run_eagerly or self._tf_predict_step is None or not self.prepared_for_prediction:
            return rasa_predict(self, batch_in)
        self._training = False
        outputs = tf_utils.sync_to_numpy_or_python_type(_concrete_function(self)(list(batch_in)))
        if DIAGNOSTIC_DATA in outputs:
            outputs[DIAGNOSTIC_DATA] = self._empty_lists_to_none_in_dict(outputs[DIAGNOSTIC_DATA])
        return outputs

    _rasa_predict.__doc__ = rasa_predict.__doc__
    RasaModel._rasa_predict = _rasa_predict
