"""Local fake servers speaking the real WeChat and Telegram wire protocols, for tests."""
