"""A k-space training set in the fastMRI HDF5 schema, from magnitudes and
phases (`--mode=export_kspace`, `launch.export_kspace`).

  volumes       records grouped into volumes (slices in order), the plan
                and each process's share of it;
  acquisition   a volume's multi-coil k-space and RSS image (the training
                forward model, `kspace.synthesize`);
  ismrmrd_header  the XML header fastMRI / DIRECT / our reader parse;
  fastmri_schema  the folder and file names and one file's datasets and
                attrs;
  manifest      `manifest.json`: what was written and from what.

Nothing here picks a phase: the exporter passes the phases in.
"""
