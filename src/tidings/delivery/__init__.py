"""Delivery: claim due notifications, sign and send them, record what happened."""
