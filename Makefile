# Convenience wrappers; scripts/setup.sh and pytest do the work.
.PHONY: setup test test-fast clean

PYTHON := .venv/bin/python
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST

setup:            ## create .venv, build the messages, pip install -e . (idempotent)
	./scripts/setup.sh

test: setup       ## all tests, slow ones (colcon build) included
	$(PYTHON) -m pytest -q

test-fast: setup  ## skip tests marked slow
	$(PYTHON) -m pytest -q -m "not slow"

clean:            ## remove build outputs (keeps .venv)
	rm -rf build install log
