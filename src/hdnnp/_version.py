"""Package and potential-file format versions."""

__version__ = "0.1.0"

#: Version of the hdnnp potential file format written by :func:`hdnnp.potential_file.save`.
#: Readers refuse files whose major version is newer than this one.
FORMAT_VERSION = "1.0"
