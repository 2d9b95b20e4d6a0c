//! Property tests: every decoder of device data and every value parser takes arbitrary input
//! without panicking (an `Err` is fine), and what has an inverse round-trips.
//!
//! Decoders get both plain arbitrary bytes and bytes shaped to pass their first checks
//! (a sense response code, a VPD page code, a valid record with damage), so that the deeper
//! parsing is reached too.

use atsbench::proto::nvme::{Completion, IdentifyController, IdentifyNamespace, NvmeCommand, NvmeStatus, IDENTIFY_LEN};
use atsbench::proto::scsi::{
    classify_sg, parse_supported_vpd_pages, parse_unit_serial, BlockLimits, Inquiry, ReadCapacity16, Sense,
    VPD_BLOCK_LIMITS, VPD_SUPPORTED_PAGES, VPD_UNIT_SERIAL,
};
use atsbench::spec::{Bytes, CpuList, Duration, Region, RegionArg, ValueList};
use atsbench::verify::claims::ClaimSet;
use atsbench::verify::classify::{classify, Context};
use atsbench::workload::record::{Owner, Record, HEADER};
use proptest::prelude::*;

/// Arbitrary bytes, mostly short, sometimes a whole Identify page.
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..128),
        1 => prop::collection::vec(any::<u8>(), 0..=IDENTIFY_LEN + 8),
    ]
}

/// `head` followed by arbitrary bytes.
fn starting_with(head: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..96).prop_map(move |tail| [head.clone(), tail].concat())
}

/// Sense data with a fixed or descriptor response code (VALID bit either way).
fn sense_like() -> impl Strategy<Value = Vec<u8>> {
    (prop::sample::select(vec![0x70u8, 0x71, 0x72, 0x73]), any::<bool>(), prop::collection::vec(any::<u8>(), 0..64))
        .prop_map(|(code, valid, tail)| [vec![code | if valid { 0x80 } else { 0 }], tail].concat())
}

/// A VPD page with the right page code and any length field.
fn vpd_like(page: u8) -> impl Strategy<Value = Vec<u8>> {
    (any::<u8>(), any::<u16>(), prop::collection::vec(any::<u8>(), 0..80))
        .prop_map(move |(qualifier, len, tail)| [vec![qualifier, page], len.to_be_bytes().to_vec(), tail].concat())
}

fn owner() -> impl Strategy<Value = Owner> {
    (any::<u64>(), any::<u32>(), any::<u64>()).prop_map(|(host, worker, seq)| Owner { host, worker, seq })
}

fn record() -> impl Strategy<Value = Record> {
    (any::<u32>(), any::<u64>(), owner()).prop_map(|(lock, generation, owner)| Record { lock, generation, owner })
}

/// Block sizes a record can be written at: a multiple of 8, at least the header.
fn block_size() -> impl Strategy<Value = usize> {
    prop_oneof![Just(512usize), Just(4096), (HEADER / 8..=160).prop_map(|w| w * 8)]
}

/// A portable Roaring bitmap of a few generations, sometimes with one byte changed.
fn bitmap_bytes() -> impl Strategy<Value = Vec<u8>> {
    (prop::collection::btree_set(0u64..5000, 0..64), any::<prop::sample::Index>(), any::<u8>()).prop_map(
        |(values, at, flip)| {
            let map: roaring::RoaringTreemap = values.into_iter().collect();
            let mut b = Vec::new();
            map.serialize_into(&mut b).unwrap();
            let i = at.index(b.len());
            b[i] ^= flip;
            b
        },
    )
}

/// Text aimed at the value parsers: digits, units, separators, and whatever else.
fn spec_text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[0-9kKmMgGtTiIbBsS .,:-]{0,24}", "[0-9]{1,20}(\\.\\.|-)[0-9]{0,20}(:[0-9]{1,20})?",]
}

proptest! {
    #[test]
    fn nvme_status_decodes_every_value(raw in any::<u16>()) {
        let s = NvmeStatus::from_raw(raw);
        let _ = (s.to_string(), s.name(), s.is_compare_failure());
        prop_assert_eq!(s.raw(), raw & 0x7fff, "bit 15 is the phase bit, dropped");
    }

    #[test]
    fn completions_decode_every_result(res in any::<i32>()) {
        let c = Completion::from_res(res);
        let _ = (c.to_string(), c.is_compare_failure());
    }

    #[test]
    fn identify_parsers_take_any_bytes(b in bytes()) {
        if let Ok(c) = IdentifyController::parse(&b) {
            let _ = (c.acwu_blocks(), c.awun_blocks(), c.awupf_blocks(), c.supports_compare());
            let _ = (c.max_transfer_bytes(4096), c.max_transfer_bytes(u32::MAX));
        }
        if let Ok(n) = IdentifyNamespace::parse(&b) {
            let _ = (n.current_format(), n.logical_block_size(), n.nacwu_blocks(), n.nawun_blocks());
        }
    }

    #[test]
    fn identify_parsers_take_any_page(b in prop::collection::vec(any::<u8>(), IDENTIFY_LEN)) {
        let c = IdentifyController::parse(&b).unwrap();
        let _ = c.max_transfer_bytes(4096);
        let n = IdentifyNamespace::parse(&b).unwrap();
        prop_assert!(n.lbaf.len() <= 64);
        let _ = n.logical_block_size();
    }

    #[test]
    fn nvme_commands_round_trip(
        dwords in prop::array::uniform16(any::<u32>()),
        addrs in (any::<u64>(), any::<u64>()),
        head in (any::<u8>(), any::<u8>()),
    ) {
        let c = NvmeCommand {
            opcode: head.0, flags: head.1, nsid: dwords[0], cdw2: dwords[1], cdw3: dwords[2],
            metadata: addrs.0, addr: addrs.1, metadata_len: dwords[3], data_len: dwords[4],
            cdw10: dwords[5], cdw11: dwords[6], cdw12: dwords[7], cdw13: dwords[8], cdw14: dwords[9],
            cdw15: dwords[10], timeout_ms: dwords[11],
        };
        prop_assert_eq!(NvmeCommand::from_bytes(&c.to_bytes()), Ok(c));
    }

    #[test]
    fn nvme_command_decoder_takes_any_bytes(b in bytes()) {
        let _ = NvmeCommand::from_bytes(&b);
    }

    #[test]
    fn sense_takes_any_bytes(b in prop_oneof![bytes(), sense_like()]) {
        if let Ok(s) = Sense::parse(&b) {
            let _ = (s.to_string(), s.is_miscompare(), s.description());
        }
    }

    #[test]
    fn classify_sg_takes_any_completion(
        status in any::<u8>(), host in any::<u16>(), driver in any::<u16>(),
        sense in prop_oneof![bytes(), sense_like()],
    ) {
        let _ = classify_sg(status, host, driver, &sense);
    }

    #[test]
    fn inquiry_takes_any_bytes(b in bytes()) {
        let _ = Inquiry::parse(&b);
    }

    #[test]
    fn vpd_parsers_take_any_bytes(b in bytes()) {
        let _ = parse_supported_vpd_pages(&b);
        let _ = parse_unit_serial(&b);
        let _ = BlockLimits::parse(&b).map(|l| l.supports_compare_and_write());
    }

    #[test]
    fn vpd_parsers_take_any_page_of_their_code(
        pages in vpd_like(VPD_SUPPORTED_PAGES),
        serial in vpd_like(VPD_UNIT_SERIAL),
        limits in vpd_like(VPD_BLOCK_LIMITS),
        other in (any::<u8>(), bytes()).prop_map(|(page, b)| [vec![0, page], b].concat()),
    ) {
        let listed = parse_supported_vpd_pages(&pages).unwrap();
        prop_assert!(listed.len() <= pages.len() - 4);
        let _ = parse_unit_serial(&serial).unwrap();
        let _ = BlockLimits::parse(&limits);
        // A page of any other code is refused by each parser, never misread.
        let _ = (parse_supported_vpd_pages(&other), parse_unit_serial(&other), BlockLimits::parse(&other));
    }

    #[test]
    fn read_capacity_takes_any_bytes(b in prop_oneof![bytes(), prop::collection::vec(any::<u8>(), 32)]) {
        if let Ok(c) = ReadCapacity16::parse(&b) {
            let _ = (c.physical_block_len(), c.bytes());
        }
    }

    #[test]
    fn record_decoder_takes_any_bytes(b in prop_oneof![bytes(), starting_with(b"ATSBLOCK\x01\x00".to_vec())]) {
        let _ = Record::decode(&b);
    }

    #[test]
    fn records_round_trip(r in record(), bs in block_size()) {
        let mut b = vec![0u8; bs];
        r.encode(&mut b);
        prop_assert_eq!(Record::decode(&b), Ok(r));
    }

    #[test]
    fn a_record_with_any_byte_changed_is_refused(
        r in record(), bs in block_size(), at in any::<prop::sample::Index>(), flip in 1u8..,
    ) {
        let mut b = vec![0u8; bs];
        r.encode(&mut b);
        let i = at.index(bs);
        b[i] ^= flip;
        prop_assert!(Record::decode(&b).is_err(), "byte {} changed by {:#04x}", i, flip);
        prop_assert!(Record::decode(&b[..i]).is_err(), "cut at {}", i);
    }

    #[test]
    fn classify_takes_any_blocks(read in bytes(), expected in bytes(), new in bytes(), ctx in (any::<u32>(), any::<u64>(), any::<u32>(), any::<u64>())) {
        let ctx = Context { lock: ctx.0, host: ctx.1, workers: ctx.2, max_seen_at_issue: ctx.3 };
        let _ = classify(&read, &expected, &new, &ctx);
    }

    #[test]
    fn value_parsers_take_any_text(s in spec_text()) {
        let _ = s.parse::<ValueList>();
        let _ = s.parse::<Bytes>();
        let _ = s.parse::<CpuList>();
        let _ = s.parse::<Duration>();
        if let Ok(r) = s.parse::<RegionArg>() {
            let _ = Region::resolve(Some(r), u64::MAX, 4096);
        }
    }

    #[test]
    fn sizes_round_trip(n in any::<u64>()) {
        prop_assert_eq!(Bytes(n).to_string().parse::<Bytes>(), Ok(Bytes(n)));
    }

    #[test]
    fn value_lists_round_trip(values in prop::collection::vec(any::<u32>(), 1..32)) {
        let text = values.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        prop_assert_eq!(text.parse::<ValueList>(), Ok(ValueList(values)));
    }

    #[test]
    fn linear_ranges_are_what_they_say(a in any::<u32>(), len in 0u32..5000, step in 1u32..100) {
        let b = a.saturating_add(len);
        let want: Vec<u32> = (a..=b).step_by(step as usize).collect();
        prop_assert_eq!(format!("{a}..{b}:{step}").parse::<ValueList>(), Ok(ValueList(want)));
    }

    #[test]
    fn cpu_lists_round_trip(cpus in prop::collection::btree_set(0usize..100_000, 1..16)) {
        let cpus: Vec<usize> = cpus.into_iter().collect();
        let text = cpus.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
        prop_assert_eq!(text.parse::<CpuList>(), Ok(CpuList(cpus)));
    }

    #[test]
    fn regions_round_trip(start in any::<u64>(), len in 1u64..) {
        let end = start.saturating_add(len);
        prop_assume!(end > start);
        prop_assert_eq!(format!("{start}..{end}").parse::<RegionArg>(), Ok(RegionArg { start, end: Some(end) }));
        prop_assert_eq!(format!("{start}..").parse::<RegionArg>(), Ok(RegionArg { start, end: None }));
    }

    #[test]
    fn seconds_round_trip(v in 1e-9f64..=1e6) {
        let d = v.to_string().parse::<Duration>().map(|d| d.0);
        prop_assert_eq!(d, Ok(std::time::Duration::from_secs_f64(v)));
    }

    #[test]
    fn durations_with_units_round_trip(ms in 1u64..=10_000_000) {
        prop_assert_eq!(format!("{ms}ms").parse::<Duration>().map(|d| d.0), Ok(std::time::Duration::from_millis(ms)));
    }

    /// One set of all claims and per-worker sets merged find the same problems, and a set
    /// survives serialisation.
    #[test]
    fn claim_sets_merge_and_round_trip(claims in prop::collection::vec((0u32..3, 1u64..200, 0u32..3), 0..300)) {
        // The set keeps two owners of a lock's highest claim; with three, which two depends on
        // the order of insertion (the third claim is a duplicate reported either way).
        for lock in 0..3 {
            let top = claims.iter().filter(|c| c.0 == lock).map(|c| c.1).max();
            prop_assume!(claims.iter().filter(|c| c.0 == lock && Some(c.1) == top).count() <= 2);
        }
        let owner = |g: u64, w: u32| Owner { host: 1, worker: w, seq: g };
        let mut one = ClaimSet::new(3);
        let mut per_worker = [ClaimSet::new(3), ClaimSet::new(3), ClaimSet::new(3)];
        for &(lock, g, w) in &claims {
            one.insert(lock, g, owner(g, w));
            per_worker[w as usize].insert(lock, g, owner(g, w));
        }
        let mut merged = ClaimSet::new(3);
        for set in per_worker {
            merged.merge(set);
        }
        prop_assert_eq!(merged.successes(), claims.len() as u64);
        prop_assert_eq!(merged.duplicates(), one.duplicates());
        let finals: Vec<Vec<u8>> = (0..3u32)
            .map(|lock| {
                let mut b = vec![0u8; 512];
                let top = claims.iter().filter(|c| c.0 == lock).map(|c| c.1).max();
                match top {
                    Some(g) => Record { lock, generation: g, owner: owner(g, 0) }.encode(&mut b),
                    None => Record::genesis(lock, 1).encode(&mut b),
                }
                b
            })
            .collect();
        let (a, b) = (one.verify(&finals), merged.verify(&finals));
        prop_assert_eq!((a.checked, a.violations, a.lost_updates), (b.checked, b.violations, b.lost_updates));
        one.maintain();
        let text = serde_json::to_string(&one).unwrap();
        let back: ClaimSet = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(serde_json::to_string(&back).unwrap(), text);
        prop_assert_eq!(back.verify(&finals), one.verify(&finals));
    }

    /// A serialised set with an arbitrary bitmap is read or refused, never a panic.
    #[test]
    fn claim_set_decoder_takes_any_bitmap(b in prop_oneof![bytes(), bitmap_bytes()], start in 1u64..6000, len in 0u64..1000) {
        use base64::Engine;
        let below = base64::engine::general_purpose::STANDARD.encode(&b);
        let text = format!(
            r#"{{"claimants":[],"duplicates":0,"locks":[{{"lock":0,"successes":5000,"top":{{"start":{start},"end":{},"owner":{{"host":1,"worker":0,"seq":1}}}},"below":"{below}"}}]}}"#,
            start + len
        );
        if let Ok(set) = serde_json::from_str::<ClaimSet>(&text) {
            let _ = set.verify(&[vec![0u8; 512]]);
        }
    }
}
