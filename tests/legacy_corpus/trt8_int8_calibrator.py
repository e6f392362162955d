"""INT8 calibration with an entropy calibrator, the TensorRT 8 way.

Written for trtlab's migrate tests; exercises the calls of int8_caffe_mnist (calibrator.py
and sample.py, TensorRT 8.x): a calibrator subclass, BuilderFlag.INT8, config.int8_calibrator,
config.max_workspace_size and build_engine(network, config).
"""
import os

import tensorrt as trt

LOGGER = trt.Logger(trt.Logger.WARNING)


class DigitsCalibrator(trt.IInt8EntropyCalibrator2):
    def __init__(self, batches, cache_file):
        trt.IInt8EntropyCalibrator2.__init__(self)
        self.batches, self.cache_file = iter(batches), cache_file

    def get_batch_size(self):
        return 32

    def get_batch(self, names):
        return next(self.batches, None)

    def read_calibration_cache(self):
        if os.path.exists(self.cache_file):
            with open(self.cache_file, "rb") as f:
                return f.read()

    def write_calibration_cache(self, cache):
        with open(self.cache_file, "wb") as f:
            f.write(cache)


def make_engine(deploy, weights, calibrator):
    with trt.Builder(LOGGER) as builder, builder.create_network() as network, \
            builder.create_builder_config() as config, trt.CaffeParser() as parser:
        config.max_workspace_size = 1 << 30
        config.set_flag(trt.BuilderFlag.INT8)
        config.int8_calibrator = calibrator
        builder.max_batch_size = 32
        blobs = parser.parse(deploy=deploy, model=weights, network=network, dtype=trt.float32)
        network.mark_output(blobs.find("prob"))
        return builder.build_engine(network, config)
