"""Rasa's prediction graph, run node after node in the caller's thread instead of through dask.

Rasa 3.6.21 runs the model's graph for every parse and every action prediction
(several per turn) with ``DaskGraphRunner.run``: it computes the minimal schema for
the targets, builds a dask graph from it, and hands that to ``dask.get``, the
synchronous scheduler, which orders the tasks, wraps each in a batch and resolves
arguments through its cache. On two cores that bookkeeping was about a quarter of
the graph's own work in a turn.

:class:`SequentialGraphRunner` keeps everything ``DaskGraphRunner`` does that has a
meaning for the result and drops the scheduler:

- the nodes are the same ``GraphNode`` objects (built by ``DaskGraphRunner``'s
  constructor, hooks included), called with the same arguments: for each of the
  node's ``needs`` the ``(name, output)`` pair of the node that provides it, or the
  ``(name, value)`` pair of a run input, or, as dask does for a key it cannot
  resolve, the bare key (``GraphNode`` logs it and raises its own error);
- each node runs after everything it needs, and only the nodes the targets need
  run, in an order computed once per tuple of targets (dask's order among
  independent nodes differs, but such nodes share no state: the NLU nodes form a
  chain and the policies only read the tracker);
- the result is ``{target: output}``; an input that clashes with a node name is a
  ``GraphRunError``, and a ``RuntimeError`` from a node becomes a ``GraphRunError``,
  as in ``DaskGraphRunner.run``. Other exceptions propagate unchanged, as
  ``dask.get`` re-raises them.

Model training keeps Rasa's runner (``rasa.model_training`` imports its own name);
only the server's ``MessageProcessor`` uses this one. A test runs both runners on
the trained model and compares every parse and prediction.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner

if TYPE_CHECKING:
    from rasa.engine.graph import GraphSchema

logger = logging.getLogger(__name__)


def execution_order(schema: GraphSchema, targets: tuple[str, ...]) -> list[str]:
    """Names of the nodes ``targets`` need, each after the nodes it needs (depth first)."""
    nodes = schema.nodes
    order: list[str] = []
    placed: set[str] = set()
    visiting: set[str] = set()

    def place(name: str) -> None:
        if name in placed or name not in nodes:
            return
        if name in visiting:
            raise GraphRunError(f"The graph has a cycle through node '{name}'.")
        visiting.add(name)
        for needed in nodes[name].needs.values():
            place(needed)
        visiting.discard(name)
        placed.add(name)
        order.append(name)

    for target in targets:
        place(target)
    return order


class SequentialGraphRunner(DaskGraphRunner):
    """``DaskGraphRunner`` whose ``run`` calls the nodes directly (see the module doc)."""

    _orders: dict[tuple[str, ...], list[str]]

    def run(
        self,
        inputs: dict[str, Any] | None = None,
        targets: list[str] | None = None,
    ) -> dict[str, Any]:
        """Run the nodes ``targets`` need; ``{target: output}``."""
        run_targets = tuple(targets if targets else self._graph_schema.target_names)
        order = self._order(run_targets)
        values: dict[str, tuple[str, Any]] = {}
        for name, value in (inputs or {}).items():
            if isinstance(value, str) and value in self._graph_schema.nodes:
                raise GraphRunError(
                    f"Input value '{value}' clashes with a node name. Make sure "
                    f"that none of the input names passed to the `run` method are the "
                    f"same as node names in the graph schema."
                )
            values[name] = (name, value)
        nodes = self._graph_schema.nodes
        try:
            for name in order:
                arguments = [values.get(needed, needed) for needed in nodes[name].needs.values()]
                values[name] = self._instantiated_nodes[name](*arguments)
        except RuntimeError as error:
            raise GraphRunError("Error running runner.") from error
        # A target that is neither a node nor an input is a KeyError, as in dask.get.
        return dict(values[target] for target in run_targets)

    def _order(self, targets: tuple[str, ...]) -> list[str]:
        orders = self.__dict__.setdefault("_orders", {})
        order = orders.get(targets)
        if order is None:
            order = orders[targets] = execution_order(self._graph_schema, targets)
        return order


def install() -> None:
    """Make the Rasa server's ``MessageProcessor`` load its model with this runner."""
    import rasa.core.processor

    rasa.core.processor.DaskGraphRunner = SequentialGraphRunner
