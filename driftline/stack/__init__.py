"""``driftline stack``: the parts docker-compose.yaml runs, on this machine without Docker
(:mod:`driftline.stack.control`), from the one table of ports, scrape targets and rules in
:mod:`driftline.deployment`."""
