//! Round trips and rules of the header parsers that the unit tests in `src/` do not already cover: upload ids,
//! trusted-proxy blocks, the forwarded scheme, and metadata with any Unicode value.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use tus_proto::parse::{forwarded_scheme, integer, is_offset_octet_stream};
use tus_proto::{IpBlock, Metadata, UploadId};

/// `s` with the case of each ASCII letter flipped where `flips` says so.
fn recase(s: &str, flips: &[bool]) -> String {
    s.chars()
        .zip(flips.iter().chain(std::iter::repeat(&false)))
        .map(|(c, &flip)| if flip { c.to_ascii_uppercase() } else { c })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn upload_ids_round_trip_and_have_one_spelling(bits in any::<u128>(), flips in proptest::collection::vec(any::<bool>(), 36)) {
        let text = format!("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            bits >> 96, (bits >> 80) & 0xffff, (bits >> 64) & 0xffff, (bits >> 48) & 0xffff, bits & 0xffff_ffff_ffff);
        let id: UploadId = text.parse().unwrap();
        prop_assert_eq!(id.to_string(), text.clone());
        prop_assert_eq!(id.as_uuid().as_u128(), bits);
        let other = recase(&text, &flips);
        prop_assert_eq!(other.parse::<UploadId>().is_ok(), other == text, "{}", other);
    }

    #[test]
    fn integers_keep_leading_zeros_and_refuse_signs(n in 0..=i64::MAX as u64, zeros in 0usize..4) {
        let text = format!("{}{n}", "0".repeat(zeros));
        let expected = (text.len() <= 19).then_some(n);
        prop_assert_eq!(integer(text.as_bytes()), expected);
        prop_assert_eq!(integer(format!("+{n}").as_bytes()), None);
        prop_assert_eq!(integer(format!("{n} ").as_bytes()), None);
    }

    #[test]
    fn content_type_ignores_case_space_and_parameters(
        flips in proptest::collection::vec(any::<bool>(), 31),
        before in "[ \t]{0,3}", after in "[ \t]{0,3}", parameter in "[ -~]{0,20}",
    ) {
        let media = recase("application/offset+octet-stream", &flips);
        let (spaced, with_parameter, longer) =
            (format!("{before}{media}{after}"), format!("{media};{parameter}"), format!("{media}x"));
        prop_assert!(is_offset_octet_stream(spaced.as_bytes()), "{:?}", spaced);
        prop_assert!(is_offset_octet_stream(with_parameter.as_bytes()), "{:?}", with_parameter);
        prop_assert!(!is_offset_octet_stream(longer.as_bytes()), "{:?}", longer);
    }

    #[test]
    fn ipv4_blocks_contain_exactly_their_prefix(addr in any::<u32>(), prefix in 0u8..=32, other in any::<u32>()) {
        let block = IpBlock::parse(&format!("{}/{prefix}", Ipv4Addr::from(addr))).unwrap();
        prop_assert!(block.contains(IpAddr::V4(Ipv4Addr::from(addr))));
        let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
        let inside = (addr & mask) == (other & mask);
        prop_assert_eq!(block.contains(IpAddr::V4(Ipv4Addr::from(other))), inside);
        // A peer on a dual-stack socket shows as the mapped IPv6 address: the same answer.
        prop_assert_eq!(block.contains(IpAddr::V6(Ipv4Addr::from(other).to_ipv6_mapped())), inside);
        // The mapped spelling of the block is the same block.
        let mapped = IpBlock::parse(&format!("{}/{}", Ipv4Addr::from(addr).to_ipv6_mapped(), u32::from(prefix) + 96));
        prop_assert_eq!(mapped, Ok(block));
    }

    #[test]
    fn ipv6_blocks_contain_exactly_their_prefix(addr in any::<u128>(), prefix in 0u8..=128, other in any::<u128>()) {
        let addr_ip = Ipv6Addr::from(addr);
        prop_assume!(addr_ip.to_ipv4_mapped().is_none() && Ipv6Addr::from(other).to_ipv4_mapped().is_none());
        let block = IpBlock::parse(&format!("{addr_ip}/{prefix}")).unwrap();
        prop_assert!(block.contains(IpAddr::V6(addr_ip)));
        let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) };
        prop_assert_eq!(block.contains(IpAddr::V6(Ipv6Addr::from(other))), (addr & mask) == (other & mask));
        let too_long = format!("{addr_ip}/{}", u32::from(prefix) + 129);
        prop_assert!(IpBlock::parse(&too_long).is_err(), "{}", too_long);
    }

    #[test]
    fn forwarded_scheme_only_from_trusted_peers(
        https in any::<bool>(), flips in proptest::collection::vec(any::<bool>(), 5), trusted_peer in any::<bool>(),
        use_forwarded in any::<bool>(), junk in "[a-z]{0,8}",
    ) {
        let trusted = [IpBlock::parse("192.0.2.0/24").unwrap()];
        let peer: IpAddr = if trusted_peer { "192.0.2.7" } else { "198.51.100.7" }.parse().unwrap();
        let scheme = if https { "https" } else { "http" };
        let mut headers = HeaderMap::new();
        if use_forwarded {
            let value = format!("for=x;proto=\"{}\", proto={junk}", recase(scheme, &flips));
            headers.insert("forwarded", HeaderValue::from_str(&value).unwrap());
        } else {
            let value = format!(" {} ,{junk}", recase(scheme, &flips));
            headers.insert("x-forwarded-proto", HeaderValue::from_str(&value).unwrap());
        }
        let expected = trusted_peer.then_some(scheme);
        prop_assert_eq!(forwarded_scheme(&trusted, Some(peer), &headers), expected);
        prop_assert_eq!(forwarded_scheme(&trusted, None, &headers), None);
        // Anything but http or https first: no scheme, whoever sends it.
        let mut other = HeaderMap::new();
        other.insert("x-forwarded-proto", HeaderValue::from_str(&format!("{junk}x")).unwrap());
        prop_assert_eq!(forwarded_scheme(&trusted, Some(peer), &other), None);
    }

    #[test]
    fn metadata_with_any_values_round_trips(pairs in proptest::collection::btree_map("[A-Za-z0-9_-]{1,8}", any::<String>(), 0..6)) {
        let metadata: Metadata = pairs.clone().into_iter().collect();
        let header = metadata.to_header_value();
        prop_assert!(HeaderValue::from_str(&header).is_ok(), "{}", header);
        let parsed = Metadata::parse(&header).unwrap();
        prop_assert_eq!(&parsed, &metadata);
        for (key, value) in &pairs {
            prop_assert_eq!(parsed.get(key), Some(value.as_str()));
        }
    }
}
