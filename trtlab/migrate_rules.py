"""The table behind ``trtlab migrate``: every legacy TensorRT (and CUDA-Python) API it knows.

Each :class:`Rule` names where the legacy spelling lives (``on``: the kind of object it is
read from), what replaces it, the TensorRT version that deprecated it and the one that
removed it, and one line of why. ``trtlab.migrate`` walks the syntax tree and asks this
table about every attribute it sees on a known receiver.

Receiver kinds (inferred by ``trtlab.migrate`` from assignments, ``with ... as``, and as a
fallback from conventional names such as ``engine`` or ``context`` in files that import
TensorRT):

    trt       the tensorrt / tensorrt_rtx module itself (``trt.UffParser``)
    builder   trt.Builder(...)
    network   builder.create_network(...)
    config    builder.create_builder_config()
    engine    builder.build_engine(...), runtime.deserialize_cuda_engine(...)
    context   engine.create_execution_context()
    uffparser trt.UffParser()
    layer     a layer from network.add_*(...) or network.get_layer(i)
    registry  trt.get_plugin_registry()

Versions are general releases. TensorRT 9.x was a limited release for large language
models; APIs whose headers said "will be removed in 9.0" are gone from the first general
release after 8.6, which is 10.0, and that is the version given here. "7.x" means the
TensorRT 7 documentation marks the API deprecated without a precise minor release.

Sources (checked while writing this table): NVIDIA's TensorRT C++ "deprecated" pages for
7.0, 7.2, 8.0.3, 8.4.3 and 10.x, the Python API pages (8.4.3: implicit batch and
max_batch_size deprecated), the TensorRT 8.x-to-10.x and 10.x-to-11.x API migration guides
("Removed Python APIs and Replacements"), the 10.12 release notes (weak typing deprecated),
and the cuda-bindings 13.0.0 release notes (cuda.cudart removed).
"""
from __future__ import annotations

from dataclasses import dataclass

# Mechanical --fix kinds (see trtlab.migrate): "rename" replaces the attribute name by
# ``fix_to``; "cuda_import" rewrites ``from cuda import cudart``.


@dataclass(frozen=True)
class Rule:
    id: str
    on: str                      # receiver kind (see module doc) or "import" / "text" / "special"
    name: str                    # attribute / class / module name as written in code
    legacy: str                  # how the finding shows it
    replacement: str             # what to write instead (target 11 / rtx)
    deprecated: str | None       # TensorRT version that deprecated it
    removed: str | None          # TensorRT version that removed it (None: still there)
    why: str
    advice: bool = False         # always "advice", never an error
    fix_to: str | None = None    # mechanical rename (``--fix``)
    replacement_10: str | None = None   # when the replacement differs on TensorRT 10
    package: str = "TensorRT"    # whose versions ``deprecated``/``removed`` are
    group: str = ""
    absent_in_rtx: bool = False  # not removed from TensorRT, but TensorRT-RTX never had it / dropped it
    store_only: bool = False     # only an assignment (``x.attr = ...``) is legacy; reading is fine
    link: str | None = None      # NVIDIA's page that states the deprecation or removal


_IO = "set_tensor_address(name, ptr) for every I/O tensor + execute_async_v3(stream)"
_STRONG = ("strong typing: FP16/BF16 weights and inputs, add_cast, or a reduced-precision ONNX model "
           "(NetworkDefinitionCreationFlag.STRONGLY_TYPED on 10.x)")
_QDQ = "explicit quantization: Q/DQ layers (add_quantize/add_dequantize) or a Q/DQ ONNX model"
_DOCS = "https://docs.nvidia.com/deeplearning/tensorrt/latest/api/migration/"
_REMOVED_11 = _DOCS + "tensorrt-10x-to-11x-python-api-reference.html"
_PY_API = "https://docs.nvidia.com/deeplearning/tensorrt/latest/_static/python-api/"
# the network methods that return a layer (a receiver of kind "layer" for the rules below)
LAYER_METHODS = ("get_layer", "add_activation", "add_elementwise", "add_matrix_multiply", "add_fully_connected",
                 "add_scale", "add_scale_nd", "add_shuffle", "add_softmax", "add_constant", "add_identity",
                 "add_cast", "add_reduce", "add_unary", "add_concatenation", "add_slice", "add_lrn",
                 "add_topk", "add_gather", "add_plugin_v2", "add_plugin_v3", "add_normalization")

RULES: list[Rule] = [
    # --- network definition ------------------------------------------------------------
    Rule("implicit-batch", "special", "create_network",
         "builder.create_network() (implicit batch)",
         "builder.create_network() with an explicit batch dimension in every input shape "
         "(N first, -1 for dynamic + an optimization profile)",
         "8.4", "10.0",
         "implicit batch mode is gone: the network's inputs must include the batch dimension",
         group="network"),
    Rule("explicit-batch-flag", "trt", "NetworkDefinitionCreationFlag.EXPLICIT_BATCH",
         "NetworkDefinitionCreationFlag.EXPLICIT_BATCH",
         "builder.create_network() (no flag needed)",
         "10.0", None,
         "explicit batch is the only mode since 10.0; the flag is ignored (TensorRT-RTX 1.x no longer has it)",
         absent_in_rtx=True, group="network"),
    Rule("add-convolution", "network", "add_convolution", "network.add_convolution",
         "network.add_convolution_nd (same arguments)", "7.x", "10.0",
         "the 2-D-only layer API was superseded by the N-d one", fix_to="add_convolution_nd",
         group="network"),
    Rule("add-deconvolution", "network", "add_deconvolution", "network.add_deconvolution",
         "network.add_deconvolution_nd (same arguments)", "7.x", "10.0",
         "the 2-D-only layer API was superseded by the N-d one", fix_to="add_deconvolution_nd",
         group="network"),
    Rule("add-pooling", "network", "add_pooling", "network.add_pooling",
         "network.add_pooling_nd (same arguments)", "7.x", "10.0",
         "the 2-D-only layer API was superseded by the N-d one", fix_to="add_pooling_nd",
         group="network"),
    Rule("add-padding", "network", "add_padding", "network.add_padding",
         "network.add_padding_nd (same arguments)", "7.x", "10.0",
         "the 2-D-only layer API was superseded by the N-d one", fix_to="add_padding_nd",
         group="network"),
    Rule("layer-stride", "layer", "stride", "layer.stride", "layer.stride_nd", "7.x", "10.0",
         "2-D layer attributes were superseded by their N-d forms", fix_to="stride_nd", group="network"),
    Rule("layer-padding", "layer", "padding", "layer.padding", "layer.padding_nd", "7.x", "10.0",
         "2-D layer attributes were superseded by their N-d forms", fix_to="padding_nd", group="network"),
    Rule("layer-kernel-size", "layer", "kernel_size", "layer.kernel_size", "layer.kernel_size_nd",
         "7.x", "10.0", "2-D layer attributes were superseded by their N-d forms",
         fix_to="kernel_size_nd", group="network"),
    Rule("layer-dilation", "layer", "dilation", "layer.dilation", "layer.dilation_nd", "7.x", "10.0",
         "2-D layer attributes were superseded by their N-d forms", fix_to="dilation_nd", group="network"),
    Rule("layer-window-size", "layer", "window_size", "layer.window_size", "layer.window_size_nd",
         "7.x", "10.0", "2-D layer attributes were superseded by their N-d forms",
         fix_to="window_size_nd", group="network"),
    Rule("add-fully-connected", "network", "add_fully_connected", "network.add_fully_connected",
         "add_constant(weights) + add_matrix_multiply(x, NONE, w, TRANSPOSE) + add_elementwise(SUM, bias) "
         "(add_shuffle to flatten first)",
         "8.4", "10.0", "IFullyConnectedLayer was removed; a matrix multiply expresses it without "
         "the implicit CHW flattening", group="network"),
    # --- parsers -----------------------------------------------------------------------
    Rule("uff-parser", "trt", "UffParser", "trt.UffParser",
         "trt.OnnxParser(network, logger) on an ONNX export (tf2onnx; `trtlab convert`)",
         "7.0", "10.0", "the UFF format and its parser were dropped; ONNX is the interchange format",
         group="parser"),
    Rule("caffe-parser", "trt", "CaffeParser", "trt.CaffeParser",
         "trt.OnnxParser(network, logger) on an ONNX export of the model",
         "7.0", "10.0", "the Caffe parser was dropped; ONNX is the interchange format", group="parser"),
    Rule("uff-register-input", "uffparser", "register_input", "parser.register_input",
         "nothing: the ONNX model names and shapes its inputs (dynamic sizes: optimization profile)",
         "7.0", "10.0", "UFF needed its inputs declared by hand; ONNX graphs carry them", group="parser"),
    Rule("uff-register-output", "uffparser", "register_output", "parser.register_output",
         "nothing: the ONNX model declares its outputs", "7.0", "10.0",
         "UFF needed its outputs declared by hand; ONNX graphs carry them", group="parser"),
    Rule("import-uff", "import", "uff", "import uff",
         "tf2onnx (python -m tf2onnx.convert) or `trtlab convert`", "7.0", "10.0",
         "the uff converter package is no longer shipped with TensorRT", group="parser"),
    Rule("import-graphsurgeon", "import", "graphsurgeon", "import graphsurgeon",
         "onnx_graphsurgeon on the ONNX model", "7.0", "10.0",
         "graphsurgeon edited TensorFlow graphs for UFF; it left with UFF", group="parser"),
    Rule("convert-to-uff", "text", "convert-to-uff", "convert-to-uff",
         "python -m tf2onnx.convert --graphdef model.pb ... or `trtlab convert model.pb -o model.onnx`",
         "7.0", "10.0", "the UFF converter is gone with the UFF parser", group="parser"),
    # --- builder and config --------------------------------------------------------------
    Rule("builder-max-batch-size", "builder", "max_batch_size", "builder.max_batch_size",
         "explicit batch dimension + config.add_optimization_profile(profile) with min/opt/max shapes",
         "8.4", "10.0", "the largest batch is now the max shape of an optimization profile",
         group="builder"),
    Rule("builder-max-workspace-size", "builder", "max_workspace_size", "builder.max_workspace_size",
         "config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, nbytes)", "7.0", "8.0",
         "build settings moved to IBuilderConfig, and the workspace became a memory pool",
         group="builder"),
    Rule("config-max-workspace-size", "config", "max_workspace_size", "config.max_workspace_size",
         "config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, nbytes)", "8.3", "10.0",
         "the workspace became one of several memory pools", group="builder"),
    Rule("builder-fp16-mode", "builder", "fp16_mode", "builder.fp16_mode", _STRONG, "7.0", "8.0",
         "precision moved to builder-config flags in 7, and to the network's own types in 11",
         replacement_10="config.set_flag(trt.BuilderFlag.FP16) (itself deprecated since 10.12)",
         group="precision"),
    Rule("builder-int8-mode", "builder", "int8_mode", "builder.int8_mode", _QDQ, "7.0", "8.0",
         "precision moved to builder-config flags in 7, and to Q/DQ layers in 11",
         replacement_10="config.set_flag(trt.BuilderFlag.INT8) (itself deprecated since 10.12)",
         group="precision"),
    Rule("builder-int8-calibrator", "builder", "int8_calibrator", "builder.int8_calibrator", _QDQ,
         "7.0", "8.0", "calibration moved to the builder config in 7 and was removed in 11",
         replacement_10="config.int8_calibrator (itself deprecated since 10.1)", group="precision"),
    Rule("builder-strict-types", "builder", "strict_type_constraints", "builder.strict_type_constraints",
         _STRONG, "7.0", "8.0", "precision constraints moved to builder-config flags, then to strong typing",
         group="precision"),
    Rule("config-int8-calibrator", "config", "int8_calibrator", "config.int8_calibrator", _QDQ,
         "10.1", "11.0", "implicit (calibrated) INT8 was replaced by explicit quantization",
         group="precision"),
    Rule("builder-fast-fp16", "builder", "platform_has_fast_fp16", "builder.platform_has_fast_fp16",
         "strongly typed networks (ask CUDA for the device's capabilities if needed)", "10.5", "11.0",
         "with strong typing the network's types decide precision, not the platform", group="precision"),
    Rule("builder-fast-int8", "builder", "platform_has_fast_int8", "builder.platform_has_fast_int8",
         "explicit quantization (ask CUDA for the device's capabilities if needed)", "10.5", "11.0",
         "with strong typing the network's types decide precision, not the platform", group="precision"),
    *[Rule(f"flag-{f.lower().replace('_', '-')}", "trt", f"BuilderFlag.{f}", f"BuilderFlag.{f}", rep, "10.12", "11.0",
           "TensorRT 11 removes weak typing: precision comes from the network's types",
           group="precision")
      for f, rep in [("FP16", _STRONG), ("BF16", _STRONG), ("FP8", _QDQ), ("INT8", _QDQ),
                     ("INT4", _QDQ), ("FP4", _QDQ),
                     ("OBEY_PRECISION_CONSTRAINTS", "strong typing (always enforced)"),
                     ("PREFER_PRECISION_CONSTRAINTS", "strong typing (always enforced)")]],
    Rule("flag-strict-types", "trt", "BuilderFlag.STRICT_TYPES", "BuilderFlag.STRICT_TYPES",
         "strong typing (always enforced)", "8.2", "10.0",
         "replaced by PREFER/OBEY_PRECISION_CONSTRAINTS, themselves removed in 11", group="precision"),
    *[Rule(f"calibrator-{c.lower()}", "trt", c, f"trt.{c}", _QDQ, "10.1", "11.0",
           "post-training INT8 calibration was replaced by explicit quantization", group="precision")
      for c in ("IInt8Calibrator", "IInt8EntropyCalibrator", "IInt8EntropyCalibrator2",
                "IInt8MinMaxCalibrator", "IInt8LegacyCalibrator")],
    Rule("calibration-algo", "trt", "CalibrationAlgoType", "trt.CalibrationAlgoType", _QDQ, "10.1", "11.0",
         "post-training INT8 calibration was replaced by explicit quantization", group="precision"),
    Rule("build-cuda-engine", "builder", "build_cuda_engine", "builder.build_cuda_engine",
         "plan = builder.build_serialized_network(network, config); "
         "engine = trt.Runtime(logger).deserialize_cuda_engine(plan)",
         "7.x", "8.0", "building now takes a builder config and returns a serialized plan",
         group="builder"),
    Rule("build-engine", "builder", "build_engine", "builder.build_engine",
         "plan = builder.build_serialized_network(network, config); "
         "engine = trt.Runtime(logger).deserialize_cuda_engine(plan)",
         "8.0", "10.0", "the builder returns a serialized plan; a Runtime turns it into an engine",
         group="builder"),
    # --- engine: bindings -> named I/O tensors ---------------------------------------------
    *[Rule(f"engine-{old.replace('_', '-')}", "engine", old, f"engine.{old}", new, "8.5", "10.0",
           "bindings (indices) were replaced by named I/O tensors", group="engine")
      for old, new in [
          ("get_binding_shape", "engine.get_tensor_shape(name)"),
          ("get_binding_dtype", "engine.get_tensor_dtype(name)"),
          ("binding_is_input", "engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT"),
          ("num_bindings", "engine.num_io_tensors"),
          ("get_binding_index", "tensor names (engine.get_tensor_name(i) for i in range(engine.num_io_tensors))"),
          ("get_binding_name", "engine.get_tensor_name(i)"),
          ("get_binding_format", "engine.get_tensor_format(name)"),
          ("get_binding_vectorized_dim", "engine.get_tensor_vectorized_dim(name)"),
          ("get_binding_bytes_per_component", "engine.get_tensor_bytes_per_component(name)"),
          ("get_binding_components_per_element", "engine.get_tensor_components_per_element(name)"),
          ("get_location", "engine.get_tensor_location(name)"),
          ("get_profile_shape", "engine.get_tensor_profile_shape(name, profile)"),
      ]],
    Rule("engine-iteration", "special", "for-in-engine", "for binding in engine",
         "for i in range(engine.num_io_tensors): name = engine.get_tensor_name(i)", "8.5", "10.0",
         "an engine no longer iterates over binding names", group="engine"),
    Rule("engine-max-batch-size", "engine", "max_batch_size", "engine.max_batch_size",
         "the batch dimension of engine.get_tensor_shape(name) / get_tensor_profile_shape(name, 0)",
         "8.4", "10.0", "implicit batch mode is gone", group="engine"),
    Rule("engine-device-memory-size", "engine", "device_memory_size", "engine.device_memory_size",
         "engine.device_memory_size_v2", "10.1", "11.0",
         "the v2 property reports sizes above 4 GiB and per-profile sizes correctly", group="engine"),
    # --- execution context ---------------------------------------------------------------
    Rule("context-get-binding-shape", "context", "get_binding_shape", "context.get_binding_shape",
         "context.get_tensor_shape(name)", "8.5", "10.0",
         "bindings (indices) were replaced by named I/O tensors", group="context"),
    Rule("context-set-binding-shape", "context", "set_binding_shape", "context.set_binding_shape",
         "context.set_input_shape(name, shape)", "8.5", "10.0",
         "bindings (indices) were replaced by named I/O tensors", group="context"),
    Rule("context-get-strides", "context", "get_strides", "context.get_strides",
         "context.get_tensor_strides(name)", "8.5", "10.0",
         "bindings (indices) were replaced by named I/O tensors", group="context"),
    Rule("context-execute", "context", "execute", "context.execute", _IO, "8.4", "10.0",
         "the implicit-batch execute(batch_size, bindings) went with implicit batch", group="context"),
    Rule("context-execute-async", "context", "execute_async", "context.execute_async", _IO, "8.4", "10.0",
         "the implicit-batch execute_async(batch_size, bindings, stream) went with implicit batch",
         group="context"),
    Rule("context-execute-async-v2", "context", "execute_async_v2", "context.execute_async_v2", _IO,
         "8.5", "10.0", "a bindings list by position was replaced by addresses set per tensor name",
         group="context"),
    Rule("context-active-optimization-profile", "context", "active_optimization_profile",
         "context.active_optimization_profile = index",
         "context.set_optimization_profile_async(index, stream) (reading the property is fine)", "7.x", "10.0",
         "the synchronous profile switch (C++ setOptimizationProfile) was deprecated before 8.0 and removed; "
         "the property is read-only from 10.0", store_only=True, group="context",
         link=_PY_API + "infer/Core/ExecutionContext.html"),
    # --- weak typing per layer, plugins ----------------------------------------------------
    Rule("layer-precision", "layer", "precision", "layer.precision = …", _STRONG, "10.12", "11.0",
         "per-layer precision was a weak-typing hint; under strong typing a layer computes in the types of "
         "its inputs (add_cast where another type is wanted)", group="precision", absent_in_rtx=True,
         link=_REMOVED_11),
    Rule("layer-precision-is-set", "layer", "precision_is_set", "layer.precision_is_set", _STRONG, "10.12", "11.0",
         "goes with layer.precision: strong typing has no per-layer precision", group="precision",
         absent_in_rtx=True, link=_REMOVED_11),
    Rule("layer-reset-precision", "layer", "reset_precision", "layer.reset_precision()", _STRONG, "10.12", "11.0",
         "goes with layer.precision: strong typing has no per-layer precision", group="precision",
         absent_in_rtx=True, link=_REMOVED_11),
    Rule("layer-set-output-type", "layer", "set_output_type", "layer.set_output_type(i, dtype)",
         "network.add_cast(layer.get_output(i), dtype) after the layer (strong typing)", "10.12", "11.0",
         "output types are no longer hints: a cast layer makes the conversion explicit", group="precision",
         absent_in_rtx=True, link=_REMOVED_11),
    Rule("add-plugin-v2", "network", "add_plugin_v2", "network.add_plugin_v2(inputs, plugin)",
         "network.add_plugin_v3(inputs, shape_inputs, plugin) with an IPluginV3 from an IPluginCreatorV3One",
         "10.0", None,
         "IPluginV2Layer and the V2 plugin interfaces are deprecated since 10.0 (IPluginV2/V2Ext since 8.5); "
         "11.x still exposes them, with warnings", absent_in_rtx=True, group="plugins",
         link=_REMOVED_11),
    Rule("registry-get-plugin-creator", "registry", "get_plugin_creator",
         "registry.get_plugin_creator(type, version, namespace)",
         "registry.get_creator(name, version, namespace) (returns V3 creators too)", "10.0", None,
         "get_plugin_creator returns only IPluginCreator, the V2 creator interface deprecated in 10.0",
         absent_in_rtx=True, group="plugins", link=_PY_API + "infer/Plugin/IPluginRegistry.html"),
    # --- CUDA from Python --------------------------------------------------------------
    Rule("pycuda-autoinit", "import", "pycuda.autoinit", "import pycuda.autoinit",
         "explicit CUDA setup with cuda-python (cuda.bindings.runtime) or trtlab.runtime; "
         "pycuda still works if you keep it",
         None, None, "autoinit creates a CUDA context at import time, hidden from the code that "
         "relies on it; not a TensorRT removal", advice=True, group="cuda"),
    Rule("cuda-cudart", "import", "cuda.cudart", "from cuda import cudart",
         "from cuda.bindings import runtime as cudart (cuda-python 12.6.1 / 11.8.4 and later)", "12.6.1", "13.0",
         "cuda-python moved its bindings under cuda.bindings; 13.0 removed the old modules",
         fix_to="from cuda.bindings import runtime as cudart", package="cuda-python", group="cuda"),
    Rule("cuda-driver", "import", "cuda.cuda", "from cuda import cuda",
         "from cuda.bindings import driver as cuda (cuda-python 12.6.1 / 11.8.4 and later)", "12.6.1", "13.0",
         "cuda-python moved its bindings under cuda.bindings; 13.0 removed the old modules",
         fix_to="from cuda.bindings import driver as cuda", package="cuda-python", group="cuda"),
]

BY_ID: dict[str, Rule] = {r.id: r for r in RULES}
assert len(BY_ID) == len(RULES), "duplicate rule id"
