"""Channel adapters (web chat, WeChat, Telegram) behind the interface in ``base``."""
