"""The web pages (server-rendered Jinja2) on top of the same services as the REST API; one login for both."""
