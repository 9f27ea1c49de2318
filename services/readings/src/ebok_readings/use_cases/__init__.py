"""What readings does, one async function per action, by area. Each opens its transaction
(or runs in the caller's, where it says so), applies the rules, writes through the
repository and adds its events to the outbox; a rule's refusal is an
``ebok_shared.refusals.Refusal``, never an HTTP problem."""
