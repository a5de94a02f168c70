"""The conversation: the rule-based router and one module per feature.

Entry point: :class:`intents.conversation.Conversation`. No platform SDK is imported here.
"""
