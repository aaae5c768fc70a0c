"""Names of AnnData slots that every chromtools layer reads or writes.

They live below ``io``, ``pp`` and ``get`` so that none of those imports
another only to learn a key.
"""

from __future__ import annotations

# The package version (``chromtools.__version__``); its major part is in every
# training checkpoint's identity.
VERSION = "0.1.0"

# adata.uns[META]: marks, bin_size, window, genome, var_names and the pp record.
META = "chromtools"
# adata.obs[GENOME_MEDIAN]: a cell type's median of log2(count + 1) over its
# whole expression table, the papers' high/low threshold.
GENOME_MEDIAN = "expression_median"
# The columns of a motif-site table (uns[key]["sites"] of ct.tl.scan_motifs), which
# ct.tl.motif_enrichment and ct.tl.in_silico_deletion read.
SITE_COLUMNS = ("region", "motif_id", "tf_name", "start", "end", "strand", "score", "pvalue")
