// Filled in by the crypto work of issue 3 (ecdsa).
