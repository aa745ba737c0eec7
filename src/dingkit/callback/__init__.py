"""Event subscription over encrypted HTTP callbacks (§7): crypto, event models, the receiver
and its durable inbox."""
