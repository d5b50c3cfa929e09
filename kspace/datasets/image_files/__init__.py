"""Reading a folder of magnitude images: file kinds, readers, scaling, splits.

No TFDS here: the `magnitude_registry` builder (through `registry_volumes`)
calls these. One module per concern:

  * `file_kinds`: which reader a file needs, by its name (other files are
    ignored);
  * `dicom`: DICOM (.dcm, .dicom, .ima, or any file with the "DICM"
    preamble), pydicom, uncompressed or compressed; the header check that
    refuses a non-MR modality, a secondary capture, a colour image, a
    localiser, a phase / real / imaginary image, a projection (MIP), a
    mosaic that cannot be cut apart or pixels no installed decoder reads
    (naming the `jpeg` extra) before the pixels are read; original vs
    derived images (`image_kind`); slice positions;
  * `mosaic`: Siemens mosaics (a grid of slices in one image): the number
    of slices from the private tag or the CSA header, and the cut;
  * `nifti`: NIfTI (.nii, .nii.gz), nibabel, 2-D to 4-D;
  * `pictures`: PNG / TIFF / JPEG, Pillow, multi-page TIFFs;
  * `slice_reading`: any supported file by its kind: its header
    (`inspect_file`) and its validated slices (`read_slices`: finite, not
    all zero or constant, negative values at most interpolation undershoot,
    then clipped); the manifest's `REASONS` for refusing a file;
  * `volume_scaling`: a volume's slices divided by one robust percentile
    scale and clipped to [0, 1] (`normalize_volume_clipped`), then each
    center-cropped to a square and resized (`square_resize`);
  * `registry_folder`: the supported files under manual_dir
    (`list_images`) and their splits (`assign_splits`: from train / val /
    test subfolders, else by a hash of each volume's name).
"""
