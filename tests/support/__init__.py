"""What the tests share: a real server in a thread (server.py), a real receiver (receiver.py),
a partner's calls through the public API (partner.py), the test databases (databases.py), a
clock moved by hand (clock.py) and real ``tidings`` processes (processes.py)."""
