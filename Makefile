# The two commands of the README:  make book  (the main job)  and  make test.
# Both create or reuse .venv and install what a fresh machine lacks.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.trtlab-installed
OUT    ?= build

.PHONY: book test lab install chromium clean sample

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	$(BIN)/python -m pip install -q --no-deps 'tensorrt-stubs>=10.8,<11'
	# Triton (chapter 11, trtlab serve): the tritonserver binary in nvidia-pytriton and tritonclient 2.51.0
	# (with perf_analyzer), without their numpy<2 pins; pyproject.toml lists what they need besides.
	$(BIN)/python -m pip install -q --no-deps 'nvidia-pytriton==0.7.0' 'tritonclient==2.51.0'
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for the browser tests (Playwright's own browser download cannot work here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium; \
	  else echo "chromium missing: sudo apt-get install chromium (browser tests will be skipped)"; fi; }

book: $(STAMP)
	$(BIN)/trtlab book --out $(OUT)

test: $(STAMP) chromium
	$(BIN)/python -m pytest

# make lab [LAB_ARGS="--port 8890 --no-browser"]
LAB_ARGS ?=
lab: $(STAMP)
	$(BIN)/trtlab lab $(LAB_ARGS)

sample:
	$(BIN)/python scripts/make_mnist_sample.py

clean:
	rm -rf $(OUT) artifacts .pytest_cache
