"""xferjax: cross-lingual transfer research on JAX/TPU.

`tasks/` and `gin_configs/` ship inside the wheel under package names that
cannot clash with a user's own modules (`xferjax_tasks`, `xferjax_gin_configs`),
so a pip-installed xferjax finds its task registry and gin files without a
checkout.
"""
import setuptools

# Pinned: these versions were resolved and imported together on Python 3.11
# (see docs/STACK.md). Bump them together, not one by one.
INSTALL_REQUIRES = [
    "jax[cpu]==0.10.2",
    "jaxlib==0.10.2",
    "flax==0.12.8",
    "optax==0.2.8",
    "orbax-checkpoint==0.12.8",
    "tensorstore==0.1.86",
    "gin-config==0.5.0",
    "seqio==0.0.20",
    "clu==0.0.12",
    "tensorflow==2.21.0",
    "tensorflow-text==2.21.1",
    "tensorflow-datasets==4.9.10",
    "tensorboard==2.21.0",
    "protobuf==7.36.2",
    "sentencepiece==0.2.3",
    "numpy==2.4.6",
    "scipy==1.17.1",
    "tqdm==4.70.1",
    "matplotlib==3.11.2",
    "pandas==3.1.1",
    "absl-py==2.5.1",
]

EXTRAS_REQUIRE = {
    # nbclient/nbformat/ipykernel: tests/launch executes the Colab notebook.
    "test": ["pytest==9.2.0", "nbclient==0.11.0", "nbformat==5.11.1",
             "ipykernel==7.4.0"],
    # Checkpoint import and parity tests only. Off these machines install the CPU
    # build from PyTorch's own index, or pip pulls a multi-GB CUDA build.
    "convert": ["torch==2.13.0", "transformers==5.24.0", "safetensors==0.8.0"],
}

setuptools.setup(
    name="xferjax",
    version="0.1.0",
    description="JAX/TPU framework for intermediate-task cross-lingual transfer studies",
    python_requires=">=3.11",
    packages=(
        setuptools.find_packages(include=["xferjax", "xferjax.*"])
        + ["xferjax_tasks"]
        + ["xferjax_tasks." + p for p in setuptools.find_packages(where="tasks")]
        + ["xferjax_gin_configs"]
    ),
    package_dir={"xferjax_tasks": "tasks", "xferjax_gin_configs": "gin_configs"},
    package_data={"xferjax_gin_configs": ["*.gin", "**/*.gin"]},
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    entry_points={"console_scripts": ["xferjax = xferjax.cli:main"]},
)
