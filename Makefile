# The two commands of the README:  make book  (the main job)  and  make test.
# Both create or reuse .venv and install what a fresh machine lacks.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.trtlab-installed
OUT    ?= build

.PHONY: book test lab install chromium clean sample translations

# uv (a PyPI wheel, put into the venv) downloads and installs the dependencies in parallel;
# where it cannot be installed, pip does the same job more slowly.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	if $(BIN)/python -m pip install -q --disable-pip-version-check uv; then \
	  install="$(BIN)/uv pip install -q --python $(BIN)/python"; \
	else install="$(BIN)/python -m pip install -q"; fi; \
	$$install -e '.[test]' && $$install --no-deps 'tensorrt-stubs>=10.8,<11' && \
	$$install --no-deps 'nvidia-pytriton==0.7.0' 'tritonclient==2.51.0'
	# ^ Triton (chapter 11, trtlab serve): the tritonserver binary in nvidia-pytriton and tritonclient 2.51.0
	#   (with perf_analyzer), without their numpy<2 pins; pyproject.toml lists what they need besides.
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for the browser tests (Playwright's own browser download cannot work here),
# and a CJK font so that the zh-TW pages' screenshots show characters, not boxes.
chromium:
	@{ command -v chromium >/dev/null 2>&1 && fc-list :lang=zh-tw 2>/dev/null | grep -q .; } || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium fonts-noto-cjk; \
	  else echo "chromium or a CJK font missing: sudo apt-get install chromium fonts-noto-cjk (browser tests skip without chromium)"; fi; }

book: $(STAMP)
	$(BIN)/trtlab book --out $(OUT)

test: $(STAMP) chromium
	$(BIN)/python -m pytest

# make lab [LAB_ARGS="--port 8890 --no-browser"]
LAB_ARGS ?=
lab: $(STAMP)
	$(BIN)/trtlab lab $(LAB_ARGS)

# zh-TW: merge the notebooks' new English into locales/, then list what is left to translate
translations: $(STAMP)
	$(BIN)/trtlab book --update-translations
	$(BIN)/trtlab book --check-translations || true

sample:
	$(BIN)/python scripts/make_mnist_sample.py

clean:
	rm -rf $(OUT) artifacts .pytest_cache
