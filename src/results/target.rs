//! The target as the document describes it: what was opened, and what its protocol probe
//! found (NVMe Identify, SCSI INQUIRY and VPD). The probes are made in `device`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What results record about the target.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
// wide: one object of the published results schema, one field per key
pub struct TargetInfo {
    pub path: String,
    pub backend: String,
    pub size_bytes: u64,
    pub logical_block_size: u32,
    pub physical_block_size: Option<u32>,
    pub model: Option<String>,
    pub firmware: Option<String>,
    pub serial: Option<String>,
    pub driver: Option<String>,
    pub kernel: String,
    /// The filesystem holding a file target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filesystem: Option<String>,
    /// The file behind a loop device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backing_file: Option<String>,
    /// True for the built-in temporary file.
    pub temporary: bool,
    /// Backend-specific probe results (NVMe Identify, SCSI INQUIRY and VPD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<Probe>,
}

/// What the protocol probe found, by protocol (flattened into the results' `probe`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Probe {
    Nvme(NvmeProbe),
    Scsi(ScsiProbe),
}

/// What atsbench knows about an NVMe namespace: the `probe` object of the results (flat: the
/// table prints one line per key). Options are null where Identify was refused or sysfs lacks
/// the value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
// wide: flat by design: the probe object of the results, one line per key in the table
pub struct NvmeProbe {
    pub backend: String,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub firmware: Option<String>,
    pub logical_block_size: u32,
    pub size_bytes: u64,
    pub nsid: u32,
    /// The namespace's block device, e.g. /dev/nvme0n1 (checked for data before writing).
    pub block_device: Option<String>,
    /// ONCS bit 0: the controller implements Compare.
    pub compare: Option<bool>,
    /// FUSES bit 0: the controller claims fused Compare and Write.
    pub fused_compare_write: Option<bool>,
    /// Whether this host can send a fused pair: false on Linux (see `fused_host_path_basis`).
    pub fused_host_path: bool,
    pub fused_host_path_basis: String,
    /// Identify Controller ACWU, raw (0's based; defined only with fused Compare and Write).
    pub acwu: Option<u16>,
    /// Identify Namespace NACWU, raw (0's based; 0 = use ACWU; valid when NSFEAT bit 1 is set).
    pub nacwu: Option<u16>,
    /// Atomic compare-and-write unit in blocks, from NACWU or else ACWU, where defined.
    pub atomic_compare_write_blocks: Option<u32>,
    /// Identify Controller MDTS (a power of two in minimum pages; 0 = no limit).
    pub mdts: Option<u8>,
    /// Largest transfer the kernel passes through, in bytes.
    pub max_transfer_bytes: Option<u64>,
    /// Metadata bytes per block of the current LBA format.
    pub metadata_bytes: Option<u16>,
    /// `nvme.poll_queues` (/sys/module/nvme/parameters/poll_queues).
    pub poll_queues: Option<u32>,
    /// The namespace queue's `io_poll` (the driver gave it poll queues).
    pub io_poll: Option<bool>,
    /// Why Identify failed, where it did.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub identify_error: Option<String>,
    pub kernel: String,
}

/// What atsbench knows about a SCSI disk behind an sg node: the `probe` object of the results
/// (flat: the table prints one line per key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
// wide: flat by design: the probe object of the results, one line per key in the table
pub struct ScsiProbe {
    pub backend: String,
    pub vendor: String,
    pub product: String,
    pub revision: String,
    pub firmware: String,
    pub serial: Option<String>,
    /// The LUN's preferred logical-unit designator (VPD 0x83): the same on every path to it.
    pub lu_name: Option<String>,
    /// Other sg nodes of this system with the same `lu_name`: other paths to this LUN.
    pub other_paths: Vec<String>,
    pub device_identification: Vec<DesignatorInfo>,
    pub logical_block_size: u32,
    pub physical_block_size: u64,
    pub size_bytes: u64,
    pub blocks: u64,
    pub max_compare_write_blocks: Option<u8>,
    pub compare_and_write: String,
    pub sg_version: String,
    pub lld: Option<String>,
    pub block_device: Option<String>,
    pub bsg_node: Option<String>,
    pub transports_available: Vec<String>,
    pub default_transport: String,
    pub bsg_uring: String,
}

/// One designator of the Device Identification VPD page, for the results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DesignatorInfo {
    pub association: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}
