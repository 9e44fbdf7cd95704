"""Gongyou (工友助手): the trade-union assistant's gateway, case domain and tooling."""
