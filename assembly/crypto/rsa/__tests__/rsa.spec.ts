// RSA verification and its Montgomery arithmetic, on the scalar path (as-pect builds
// without SIMD; the vitest suites run build/test/crypto.wasm). Vectors are taken from
// Wycheproof (test/crypto/wycheproof), one valid and one invalid per file.
import { HashAlg } from "../../sha2";
import { VerifyResult } from "../../result";
import { RsaPublicKey, verifyPkcs1v15, verifyPss } from "../index";
import { Montgomery, Residue, limbBitsFor, limbsFor, residueFromBytes, residueToBytes } from "../montgomery";
import { fromHex, toHex } from "../../__tests__/util";

// rsa_signature_2048_sha256_test.json, e = 0x010001
const PKCS1_2048_E65537_N =
  "00a2b451a07d0aa5f96e455671513550514a8a5b462ebef717094fa1fee82224e637f9746d3f7cafd31878d80325b6ef"
    + "5a1700f65903b469429e89d6eac8845097b5ab393189db92512ed8a7711a1253facd20f79c15e8247f3d3e42e46e48c9"
    + "8e254a2fe9765313a03eff8f17e1a029397a1fa26a8dce26f490ed81299615d9814c22da610428e09c7d9658594266f5"
    + "c021d0fceca08d945a12be82de4d1ece6b4c03145b5d3495d4ed5411eb878daf05fd7afc3e09ada0f1126422f590975a"
    + "1969816f48698bcbba1b4d9cae79d460d8f9f85e7975005d9bc22c4e5ac0f7c1a45d12569a62807d3b9a02e5a530e773"
    + "066f453d1f5b4c2e9cf7820283f742b9d5";
const PKCS1_2048_E65537_E = "010001";
const PKCS1_2048_E65537_VALID_TC = 1;
const PKCS1_2048_E65537_VALID_MSG = "";
const PKCS1_2048_E65537_VALID_SIG =
  "840f5dac53106dd1f9c57219224cf51289290c42f20466875ba8e830ac5690e541536fcc8ab03b731f82bf66d83f194e"
    + "7e180b3963ec7a2f3f7904a7ce49aed47da4d4b79421eaf937d301b3e696169297b797c32c076a12be4de0b58e003c51"
    + "23051a84a10c62f8dac2f42a8640008eb3c7cccd6760ff5b51b689763922582845f048fb8150e5a7a6ca2eccc7bdc853"
    + "49ad5b26c52137a79fa3fe5c29ab5cd7615013219c1941b6708e9c3c23feff5febaf0c8ebca5750b54e3e6e99a3e876b"
    + "396f27860b7f3ec4e9191703c6332d944f6f69751167680c79c4f6b57f1cc8755d24b6ec158ccdbacdb23107a33cb6b3"
    + "32516c13274d1f9dccc21dced869e486";
const PKCS1_2048_E65537_INVALID_TC = 9;
const PKCS1_2048_E65537_INVALID_MSG = "313233343030";
const PKCS1_2048_E65537_INVALID_SIG =
  "8a0e82d4f334aca72a718b6f8f643f69c6048d619d5eba71263a5d2d3ac7a7af133b780c7595ca2c982c006e861948f5"
    + "43cd0210c758691f9626842c25de2843ea314ca8eff285d47e0cffa54180af416004017034962a80a5959c3d3f1bfc15"
    + "4a4824462a93c014f6dfe920824f414a6e30e0e5944d480b99949ec7bf64c4a7461575933b17d7d6b0178b5192392ace"
    + "3ed8469e8ac1dacae51ad5d3ad73dcb213e056d04596e64d8c0703def3110c7cecc93ba8ac8059f0f3d66b89d8712c62"
    + "b41d407e4b4a104f4569558b0290c213cad6d0653898b9df8f4a453ab07d13bfb7598d505abbd0c4987e4f1ac66e1a52"
    + "3e113e370ab7cf990f0cc63f50f4f0a4";
// rsa_signature_2048_sha256_test.json, e = 0x03
const PKCS1_2048_E3_N =
  "0090a5d7aba2c8dc828e616fc1fc45c7c52130c8589dcbe2913da187572f6c23217b89a5186b6f90cbe053abfb0885a9"
    + "1f141dbe106ce6ad303904a5941df26ced10478cb56a7bd6cf1313c4966d9cf7c4509d9dc63566aa323e110af219f339"
    + "8c04e79bb486de8703793473136f5c9051af24bd2c0208ea1bf9321a3e8f24af00aaca1216842eab248d58cf46ac786c"
    + "49fd3ca8557e9b53993a4b9718cdc5c474bf1cfe58c07ad97b2c5acb7d86accc0fc7bed147adb2e77b8697d801509481"
    + "17714b806ff76f9d88147d84e93987b724bf4870429e85a7a7b51486a78d8a88f1688f60e215d43d06221e2b993b5c12"
    + "a607b80e9e0122472b29945f76b55737c1";
const PKCS1_2048_E3_E = "03";
const PKCS1_2048_E3_VALID_TC = 258;
const PKCS1_2048_E3_VALID_MSG = "33363730";
const PKCS1_2048_E3_VALID_SIG =
  "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    + "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    + "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    + "00000000000000000000000000000000000000000000000000000989e7ff72e67e680bd21d5f966e4ad8a48c3592dbac"
    + "c4a2f035b4ef4d17a2f25f8a9fef7e78eb99d76d68629ed02d67c43c4b7ec8c3badc32e3d0a524c326537739b0fde156"
    + "723b27c23ae2b09895e470c64d700f5c";
// rsa_pss_2048_sha256_mgf1_32_test.json, e = 0x010001
const PSS_2048_SHA256_N =
  "00a2b451a07d0aa5f96e455671513550514a8a5b462ebef717094fa1fee82224e637f9746d3f7cafd31878d80325b6ef"
    + "5a1700f65903b469429e89d6eac8845097b5ab393189db92512ed8a7711a1253facd20f79c15e8247f3d3e42e46e48c9"
    + "8e254a2fe9765313a03eff8f17e1a029397a1fa26a8dce26f490ed81299615d9814c22da610428e09c7d9658594266f5"
    + "c021d0fceca08d945a12be82de4d1ece6b4c03145b5d3495d4ed5411eb878daf05fd7afc3e09ada0f1126422f590975a"
    + "1969816f48698bcbba1b4d9cae79d460d8f9f85e7975005d9bc22c4e5ac0f7c1a45d12569a62807d3b9a02e5a530e773"
    + "066f453d1f5b4c2e9cf7820283f742b9d5";
const PSS_2048_SHA256_E = "010001";
const PSS_2048_SHA256_VALID_TC = 1;
const PSS_2048_SHA256_VALID_MSG = "";
const PSS_2048_SHA256_VALID_SIG =
  "4f01e0c12b08625ecac89a69231906edf826380f37c959a96690d046316d68ffce9d5c471694fcebfc6b455348646892"
    + "56e4fc81c78e583f675d0c94b449647451e81beff01a11a516d5e5ce3f1a910437cb8a3a5096b19fb15f4524a35b23d8"
    + "9cdba12cf5b71aac1047b28c562df7c5542c34ce23a182cf7e0e231934b17294799d44877a1d68ef1b8f073619b7618e"
    + "6b7c22db20030d98cf591ffc3d4da5f58613ecd5ecfc3b40a1d02f40891ca43695cd4c088b05a8054c89c595a47e2748"
    + "16f35384226f74459ee63e25a1bfc03c360490552ec38343f8ace502f065303b00bc0ec320711b211fde92e57feb9013"
    + "c3609342495ec0d7cabdec21e54acc38";
const PSS_2048_SHA256_INVALID_TC = 62;
const PSS_2048_SHA256_INVALID_MSG = "313233343030";
const PSS_2048_SHA256_INVALID_SIG =
  "67d1d1c0a398148625317c3f5e44b738bdf461c27a59594b39ebb2aebef233c7809379e54411411b82d2e7ac88f989b5"
    + "8373d532c758baea121878ce9759441738d121881c1fa2d04421f02dd565b12770d844611ed1873a0b64d822709a6b78"
    + "d6d3892b294404bce6711001d6c3a54546c76a1d17819674b0be904497a233b466fe4becc832dee740f9ab79e5b9f5db"
    + "0b0f9aac0084ba05cebf42303b5ca2ad95e3d61b29ed6475545c02e93e7b0e118af92f5cddb1faeb2cbc23c9e69c120e"
    + "29df7fe31991e887b3b29e77688c60e80be65cccf3d7861a7a14c39e6a6e5645568e2cc5e4a17b75db1dd415aadb45e1"
    + "12a9b582b2ff6e82a43d7a7347b7b56d";
// rsa_pss_4096_sha512_mgf1_64_test.json, e = 0x010001
const PSS_4096_SHA512_N =
  "00c9a765c2661b4674cff3480e9a5e462ad0ad2fc9bc6fbef62847b3113d20991f653967971c28252753f5fbacce012c"
    + "2a8ab592914d269efafa724fa4b920e340930c106f7b36f79cebf0e62e88e0e476888e9f0e22186acdb6c4523a232b65"
    + "b4ff2cc22dc44f8a559527d79d7cd7dcf3773212f7bb9aa133c31165cc663690bf123d73923c838929ccafee59d6c709"
    + "5b8d4a74baf2d192c9a4e87c4e12bc58013078b28a7789e82e9f31de1f4d6a2aa6e80632be8e4bdf263e8d49b09416fb"
    + "19c488c07ad8af722ab79182b23028a71e065d02412a9eebc46d7d8f4e03d79238d8c0cb4a97a9a1200ebb6ec64042eb"
    + "eccad9567526eeef12c17d94c1049c889970b96e94cc353172a268a49c5e8bee13c15b39dec44f2c7a1aa37a7a0b6f72"
    + "290acada32b1d8af1fc3dc8a89487ba81347cbeb1350925d30f923958106b49959c871e7c1dba55da0772e362cf8621d"
    + "78610868b894e16e5dfec96874a93a4cf379b47e7e318ce315066d70ee3938140a60148f205085cef8a7700ca3c53d52"
    + "a5756a63b3b16f153062b61262a68496210c8be4ef3f9029ca0ea0e3b3a0d5d6d226edbbf44daf8f045dc286ded3c4ec"
    + "4db6b45347079f33eaf98e3c95b4b60e79ef4a3093feec543703422ba74a118511c2193b54fe8b633866ed2c705ccbc6"
    + "e7d9d3656809ec3d3356e7400a9648ec37505041e3e31af1c02eefe924a67047d3";
const PSS_4096_SHA512_E = "010001";
const PSS_4096_SHA512_VALID_TC = 1;
const PSS_4096_SHA512_VALID_MSG = "";
const PSS_4096_SHA512_VALID_SIG =
  "bbb7dab2ab26bb86660f02822cac2ce6317872ed07b83022e693c9ad38ca746437cb3601e26a39ed4ee528e023a9f418"
    + "d16c88bf0096e5e83aae2365ea8aae415f7012f5a303ad2bc37f9749d307ef9a1e4b6a48e49770f46dec1b3a29c96d14"
    + "bad91a441413012cc4a032f8b31d110fc1df22d0ad173be06ab6b81f557d85115b62cc5c557744048771d10ba187f39b"
    + "28b6166c7560145192ad1e9f3b61a6bf9bbfc61ea567ed5c95a807716644ecce8f33de35cccc7813a57605d5754db66a"
    + "38c744ca7a468bba3a0dac4046e472bcd98757383c5fe1c227763b3b1597f17e69f11599c16e7175d70cca60b719c008"
    + "e0629288679644015352c169cac298259cf5724671e316f4c914b522bb507d7f5afb3e9599901aa77ce431102a925cf3"
    + "a66bd1708a8ed1f3428aa9aafe41fc433ea3ea0e5326efa65b42ffe1bc3b7eafd1c52302ecf7d3aa326067b6ed892af9"
    + "ccb0ca0ca8dc1fa111bae768fed2213de448f8aef2497de83a2d046b7d9a4c1c487bf3892022a243dff3e3c3ba713032"
    + "c5f6bc63d1f206d1831aaab55129787ffcb18b164edecc6fbfb90284b3dfa6a28557b72864b1b8a63d8ad406339badab"
    + "7b724dec46e4cfaac2b545537aeb3ec2b72d6266172eabd22dc276a626663940201bb08a6c91d59fcee8205667a54cb7"
    + "be5770cf6eb5fdbf4a6b76fcc5a7b34b6a56f1bf89ea8ff25ec364dbdfd5159e";
const PSS_4096_SHA512_INVALID_TC = 131;
const PSS_4096_SHA512_INVALID_MSG = "313233343030";
const PSS_4096_SHA512_INVALID_SIG =
  "587b5619eaf818a1eafbc475ffe48009874aa959d9989f51b5e4241f9eccdc0c081d7a0c0b4cae9657f0c1307b4b1d78"
    + "a56859b81d75a3eb45a599f4ba695608909da05ac0bfca62832bf944738ce66962455875ab4af87284abd40caf7751fd"
    + "70fdff9adb834a6e8a502c2eec37785de104c5de5849e37c0fe25b95fecf86dd0ecf1fe077072d13ee8c3dbfe9843aed"
    + "1ae693a52f2270a497a5bcc2532117211ba87993a2f808bf69fe20a959457b5869bb3c4234ca5edc4381077449801755"
    + "2b2472cd66db323726eeedb94325dd44cd387b2ce98e780d2da8b4898e5d417750ed918b652f16aebb8fcf3a333923cc"
    + "1c9275257cf870423eb88e715fc3acc3bef4c3437250b07acb31f4c5be53e94015bc93fc82b0faa6e721999bb43926a7"
    + "dd2405701cf648a54fbbd314840a0f2e9f4be069027c7cbaba97f0e39131ff61bb9d4d12b092061435b924fa44cee843"
    + "f702311299b0681e0fea42ae31a3dc3cb343be9b3e174d457515bd06ab5e1f5d1345fab7c3a12c82dd6c527e39e3fcc4"
    + "17c191d16dd7baf36925f1e041611557610effc81e0dde0abeefbfde4ab546d4309baf668375b5187a2e8a8b85f61365"
    + "11108829bc3eb06cc0eb1448cf246cf4a38eca8508b73ed7c232165f5b5afe911df589216fd97a543d0d0adb47928875"
    + "daeaea26c7bc3542e3117f091fb45e12f12d51620c877d731552fc5b7248331b";

function key(n: string, e: string): RsaPublicKey {
  return RsaPublicKey.fromJwk(fromHex(n), fromHex(e));
}

describe("RSASSA-PKCS1-v1_5 (RFC 8017 §8.2.2)", () => {
  it("verifies Wycheproof's valid signatures, e = 65537 and e = 3", () => {
    const k = key(PKCS1_2048_E65537_N, PKCS1_2048_E65537_E);
    expect(k.status).toBe(VerifyResult.Valid);
    expect(k.modulusBits).toBe(2048);
    expect(k.modulusBytes).toBe(256);
    expect(verifyPkcs1v15(k, HashAlg.SHA256, fromHex(PKCS1_2048_E65537_VALID_MSG), fromHex(PKCS1_2048_E65537_VALID_SIG)))
      .toBe(VerifyResult.Valid);
    const k3 = key(PKCS1_2048_E3_N, PKCS1_2048_E3_E);
    expect(verifyPkcs1v15(k3, HashAlg.SHA256, fromHex(PKCS1_2048_E3_VALID_MSG), fromHex(PKCS1_2048_E3_VALID_SIG)))
      .toBe(VerifyResult.Valid);
  });

  it("rejects a long-form DigestInfo length (tcId 9) and the wrong hash", () => {
    const k = key(PKCS1_2048_E65537_N, PKCS1_2048_E65537_E);
    expect(verifyPkcs1v15(k, HashAlg.SHA256, fromHex(PKCS1_2048_E65537_INVALID_MSG), fromHex(PKCS1_2048_E65537_INVALID_SIG)))
      .toBe(VerifyResult.Invalid);
    expect(verifyPkcs1v15(k, HashAlg.SHA384, fromHex(PKCS1_2048_E65537_VALID_MSG), fromHex(PKCS1_2048_E65537_VALID_SIG)))
      .toBe(VerifyResult.Invalid);
  });

  it("answers BadSignature for a wrong length or s ≥ n, BadInput for an unknown hash", () => {
    const k = key(PKCS1_2048_E65537_N, PKCS1_2048_E65537_E);
    const msg = fromHex(PKCS1_2048_E65537_VALID_MSG);
    const sig = fromHex(PKCS1_2048_E65537_VALID_SIG);
    expect(verifyPkcs1v15(k, HashAlg.SHA256, msg, sig.subarray(1))).toBe(VerifyResult.BadSignature);
    expect(verifyPkcs1v15(k, HashAlg.SHA256, msg, new Uint8Array(0))).toBe(VerifyResult.BadSignature);
    expect(verifyPkcs1v15(k, HashAlg.SHA256, msg, fromHex(PKCS1_2048_E65537_N).subarray(1))).toBe(VerifyResult.BadSignature);
    expect(verifyPkcs1v15(k, <HashAlg>9, msg, sig)).toBe(VerifyResult.BadInput);
  });
});

describe("RSASSA-PSS (RFC 8017 §8.1.2)", () => {
  it("verifies Wycheproof's valid signatures (2048-bit SHA-256, 4096-bit SHA-512)", () => {
    const k = key(PSS_2048_SHA256_N, PSS_2048_SHA256_E);
    expect(verifyPss(k, HashAlg.SHA256, fromHex(PSS_2048_SHA256_VALID_MSG), fromHex(PSS_2048_SHA256_VALID_SIG)))
      .toBe(VerifyResult.Valid);
    const k4 = key(PSS_4096_SHA512_N, PSS_4096_SHA512_E);
    expect(k4.modulusBits).toBe(4096);
    expect(verifyPss(k4, HashAlg.SHA512, fromHex(PSS_4096_SHA512_VALID_MSG), fromHex(PSS_4096_SHA512_VALID_SIG)))
      .toBe(VerifyResult.Valid);
  });

  it("rejects a modified mHash and the other padding", () => {
    const k = key(PSS_2048_SHA256_N, PSS_2048_SHA256_E);
    expect(verifyPss(k, HashAlg.SHA256, fromHex(PSS_2048_SHA256_INVALID_MSG), fromHex(PSS_2048_SHA256_INVALID_SIG)))
      .toBe(VerifyResult.Invalid);
    const k4 = key(PSS_4096_SHA512_N, PSS_4096_SHA512_E);
    expect(verifyPss(k4, HashAlg.SHA512, fromHex(PSS_4096_SHA512_INVALID_MSG), fromHex(PSS_4096_SHA512_INVALID_SIG)))
      .toBe(VerifyResult.Invalid);
    expect(verifyPkcs1v15(k, HashAlg.SHA256, fromHex(PSS_2048_SHA256_VALID_MSG), fromHex(PSS_2048_SHA256_VALID_SIG)))
      .toBe(VerifyResult.Invalid);
  });
});

describe("RsaPublicKey", () => {
  it("rejects e = 1, even e, an even or short modulus", () => {
    expect(key(PKCS1_2048_E65537_N, "01").status).toBe(VerifyResult.BadKey);
    expect(key(PKCS1_2048_E65537_N, "010000").status).toBe(VerifyResult.BadKey);
    expect(key(PKCS1_2048_E65537_N, "").status).toBe(VerifyResult.BadKey);
    expect(key(PKCS1_2048_E65537_N.substr(0, 510) + "00", "010001").status).toBe(VerifyResult.BadKey);
    expect(key(PKCS1_2048_E65537_N.substr(4), "010001").status).toBe(VerifyResult.BadKey);
    expect(key("", "010001").status).toBe(VerifyResult.BadKey);
  });

  it("takes the residue comparison for e = 2^t + 1 only (eShift = t)", () => {
    expect(key(PKCS1_2048_E65537_N, "010001").eShift).toBe(16);
    expect(key(PKCS1_2048_E65537_N, "03").eShift).toBe(1);
    expect(key(PKCS1_2048_E65537_N, "0000000011").eShift).toBe(4);
    expect(key(PKCS1_2048_E65537_N, "07").eShift).toBe(0);
    expect(key(PKCS1_2048_E65537_N, "7fffffff").eShift).toBe(0);
    expect(key(PKCS1_2048_E65537_N, "01").eShift).toBe(0);
  });

  it("verification with a rejected key answers BadKey", () => {
    const k = key(PKCS1_2048_E65537_N, "01");
    const sig = fromHex(PKCS1_2048_E65537_VALID_SIG);
    expect(verifyPkcs1v15(k, HashAlg.SHA256, new Uint8Array(0), sig)).toBe(VerifyResult.BadKey);
    expect(verifyPss(k, HashAlg.SHA256, new Uint8Array(0), sig)).toBe(VerifyResult.BadKey);
  });
});

/** Pseudo-random bytes below n (whose hex has a 00 byte, then a byte ≥ 0x80): xorshift. */
function sampleBelow(len: i32, seed: u32): Uint8Array {
  const out = new Uint8Array(len);
  let x = seed | 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    out[i] = <u8>x;
  }
  out[0] = 0;
  out[1] &= 0x7f;
  return out;
}

function checkArithmetic(nHex: string): void {
  const nBytes = fromHex(nHex);
  const bits = nBytes.length * 8 - (nBytes[0] == 0 ? 8 : 0);
  const w = limbBitsFor(bits);
  const count = limbsFor(bits);
  const n = new Residue(count);
  residueFromBytes(n, w, nBytes.dataStart, nBytes.length);
  const mont = new Montgomery(n, w);
  const a = new Residue(count);
  const b = new Residue(count);
  const x = new Residue(count);
  const y = new Residue(count);
  const bytes = new Uint8Array(nBytes.length);
  for (let i: u32 = 1; i <= 8; i++) {
    const sa = sampleBelow(nBytes.length, i * 7919);
    const sb = sampleBelow(nBytes.length, i * 104729);
    residueFromBytes(a, w, sa.dataStart, sa.length);
    residueFromBytes(b, w, sb.dataStart, sb.length);
    // Bytes survive the limb representation.
    residueToBytes(bytes.dataStart, bytes.length, a, w);
    expect(toHex(bytes)).toBe(toHex(sa));
    // The squaring path agrees with the general product, and the product commutes.
    mont.sqr(x, a);
    mont.mul(y, a, a);
    residueToBytes(bytes.dataStart, bytes.length, x, w);
    const sq = toHex(bytes);
    residueToBytes(bytes.dataStart, bytes.length, y, w);
    expect(toHex(bytes)).toBe(sq);
    mont.mul(x, a, b);
    mont.mul(y, b, a);
    residueToBytes(bytes.dataStart, bytes.length, x, w);
    const ab = toHex(bytes);
    residueToBytes(bytes.dataStart, bytes.length, y, w);
    expect(toHex(bytes)).toBe(ab);
    // Entering the domain and leaving it gives the value back: mul(mul(a, R²), 1) = a.
    mont.mul(x, a, mont.r2);
    const one = new Uint8Array(1);
    one[0] = 1;
    residueFromBytes(b, w, one.dataStart, 1);
    mont.mul(y, x, b);
    if (mont.compareToModulus(y.limbs()) >= 0) mont.subtractModulus(y.limbs());
    residueToBytes(bytes.dataStart, bytes.length, y, w);
    expect(toHex(bytes)).toBe(toHex(sa));
  }
}

describe("Montgomery", () => {
  it("chooses 28-bit limbs up to 3554 bits and 27-bit limbs above, with R > 4n", () => {
    expect(limbBitsFor(2048)).toBe(28);
    expect(limbBitsFor(3554)).toBe(28);
    expect(limbBitsFor(3555)).toBe(27);
    expect(limbBitsFor(4096)).toBe(27);
    expect(limbsFor(2048) * 28).toBeGreaterThanOrEqual(2050);
    expect(limbsFor(4096) * 27).toBeGreaterThanOrEqual(4098);
  });

  it("agrees with itself on a 2048-bit modulus (28-bit limbs)", () => {
    checkArithmetic(PKCS1_2048_E65537_N);
  });

  it("agrees with itself on a 4096-bit modulus (27-bit limbs)", () => {
    checkArithmetic(PSS_4096_SHA512_N);
  });
});
