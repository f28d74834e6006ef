"""Fixtures shared by several test folders; each folder's conftest imports what it uses."""
