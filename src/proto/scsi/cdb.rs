//! Decoding of the CDBs atsbench sends (COMPARE AND WRITE, READ(16), WRITE(16)), for the
//! simulated device, which executes the very bytes the real backends encode.

use super::{be32, be64, OP_COMPARE_AND_WRITE, OP_READ_16, OP_WRITE_16};

/// A decoded command descriptor block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cdb {
    /// READ(16) of `blocks` logical blocks at `lba`.
    Read16 { lba: u64, blocks: u32, fua: bool },
    /// WRITE(16) of `blocks` logical blocks at `lba`.
    Write16 { lba: u64, blocks: u32, fua: bool },
    /// COMPARE AND WRITE of `blocks` logical blocks at `lba`: Data-Out holds the verify image
    /// then the write image.
    CompareAndWrite { lba: u64, blocks: u8, dpo: bool, fua: bool, wrprotect: u8, group: u8 },
}

/// Why a CDB cannot be executed, with the sense codes a device answers it with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CdbError {
    /// No bytes at all.
    #[error("empty CDB")]
    Empty,
    /// An operation code this decoder does not know: INVALID COMMAND OPERATION CODE.
    #[error("operation code {0:#04x} is not supported")]
    Opcode(u8),
    /// Fewer bytes than the operation's CDB length: INVALID FIELD IN CDB.
    #[error("operation code {opcode:#04x} needs a {need}-byte CDB, got {got} bytes")]
    Short { opcode: u8, need: usize, got: usize },
    /// A field holds a value SBC-4 does not allow here: INVALID FIELD IN CDB.
    #[error("invalid field in CDB byte {byte}")]
    Field { byte: u8 },
}

impl CdbError {
    /// ASC/ASCQ of the ILLEGAL REQUEST sense a device returns for this CDB.
    pub fn asc_ascq(&self) -> (u8, u8) {
        match self {
            CdbError::Opcode(_) | CdbError::Empty => (0x20, 0x00),
            CdbError::Short { .. } | CdbError::Field { .. } => (0x24, 0x00),
        }
    }
}

const DPO: u8 = 0x10;
const FUA: u8 = 0x08;

impl Cdb {
    /// Decode `b`, the CDB as sent (its length is the command's CDB length).
    pub fn parse(b: &[u8]) -> Result<Cdb, CdbError> {
        let opcode = *b.first().ok_or(CdbError::Empty)?;
        if !matches!(opcode, OP_READ_16 | OP_WRITE_16 | OP_COMPARE_AND_WRITE) {
            return Err(CdbError::Opcode(opcode));
        }
        if b.len() < 16 {
            return Err(CdbError::Short { opcode, need: 16, got: b.len() });
        }
        let lba = be64(b, 2);
        let fua = b[1] & FUA != 0;
        Ok(match opcode {
            OP_READ_16 => Cdb::Read16 { lba, blocks: be32(b, 10), fua },
            OP_WRITE_16 => Cdb::Write16 { lba, blocks: be32(b, 10), fua },
            _ => {
                // Bytes 10..13 are reserved in COMPARE AND WRITE (16).
                if b[10..13].iter().any(|&x| x != 0) {
                    return Err(CdbError::Field { byte: 10 });
                }
                Cdb::CompareAndWrite {
                    lba,
                    blocks: b[13],
                    dpo: b[1] & DPO != 0,
                    fua,
                    wrprotect: b[1] >> 5,
                    group: b[14] & 0x3f,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{compare_and_write, read16, write16};
    use super::*;

    #[test]
    fn decodes_what_the_encoders_build() {
        let c = Cdb::parse(&compare_and_write(0x0102_0304_0506_0708, 3, true, false, 7)).unwrap();
        let want = Cdb::CompareAndWrite {
            lba: 0x0102_0304_0506_0708,
            blocks: 3,
            dpo: true,
            fua: false,
            wrprotect: 0,
            group: 7,
        };
        assert_eq!(c, want);
        assert_eq!(Cdb::parse(&read16(9, 8, false)).unwrap(), Cdb::Read16 { lba: 9, blocks: 8, fua: false });
        assert_eq!(
            Cdb::parse(&write16(u64::MAX, 1, true)).unwrap(),
            Cdb::Write16 { lba: u64::MAX, blocks: 1, fua: true }
        );
    }

    #[test]
    fn refuses_what_a_device_refuses() {
        assert_eq!(Cdb::parse(&[]), Err(CdbError::Empty));
        assert_eq!(Cdb::parse(&[0x12, 0, 0, 0, 36, 0]), Err(CdbError::Opcode(0x12)));
        assert_eq!(Cdb::parse(&[0x12]).unwrap_err().asc_ascq(), (0x20, 0));
        let short = Cdb::parse(&read16(0, 1, false)[..10]).unwrap_err();
        assert_eq!(short, CdbError::Short { opcode: 0x88, need: 16, got: 10 });
        assert_eq!(short.asc_ascq(), (0x24, 0));
        let mut c = compare_and_write(0, 1, false, false, 0);
        c[11] = 1;
        assert_eq!(Cdb::parse(&c), Err(CdbError::Field { byte: 10 }));
    }
}
