"""Platform adapters: translate platform events to :class:`intents.types.Inbound` and render
:class:`intents.types.Reply` back. Nothing else happens here."""
