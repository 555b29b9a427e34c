"""Alert rules over the ledger (failure rate, dead letters, API budget, stalled triggers), sent by webhook and SMTP."""

from ledgerlink.alerts.rules import KINDS, Firing, evaluate
from ledgerlink.alerts.runner import check_and_send
from ledgerlink.alerts.senders import SmtpSettings, send_email, send_webhook

__all__ = ["KINDS", "Firing", "SmtpSettings", "check_and_send", "evaluate", "send_email", "send_webhook"]
