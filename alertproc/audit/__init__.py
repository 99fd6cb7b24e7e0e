"""The audit over the events: policy, detection rules and their scenarios, triage, the ASP
inventory, canned queries, layers."""

# Its modules, imported by name: `from alertproc.audit import policy`.
__all__ = ['policy', 'rules', 'rulestest', 'triage', 'inventory', 'canned', 'layers']
