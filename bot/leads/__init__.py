"""The lead service layer: where every lead write goes.

:class:`LeadService` applies the chat's and the storefront's commands
(:mod:`bot.leads.commands`), scoring each write and planning its handoffs in
its transaction, and merges and rescores leads; :mod:`bot.leads.spool` keeps
writes the database could not take. Around it: lead management
(:mod:`bot.leads.book`), CSV import and export (:mod:`bot.leads.csvimport`,
:mod:`bot.leads.csvexport`), parallel rescoring (:mod:`bot.leads.rescore`),
synthetic histories (:mod:`bot.leads.synthetic`) and the scoring review
(:mod:`bot.leads.review`). The store (:mod:`bot.store`) below only persists;
the scorer (:mod:`bot.scoring`) is pure.
"""

from bot.leads.results import ApplyResult, LeadState, RescoreSummary
from bot.leads.service import LeadService

__all__ = ["ApplyResult", "LeadService", "LeadState", "RescoreSummary"]
