"""Billing's use cases, one function per action, one module per area: each opens its
transaction, asks the domain, writes through the repository and adds its events. They raise
refusals (``ebok_shared.refusals.Refusal``), never HTTP problems."""
