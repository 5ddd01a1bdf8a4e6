//! A module through the broker: split into chunks of the deployment's
//! size, each retained on a topic of its own, put together on the device
//! in a buffer of the size the signed deployment names and checked
//! against the hash it names. A chunk of the wrong size, or a whole of
//! the wrong hash, is refused: the deployment is signed, the chunks are
//! not.

/// A module being put together.
#[derive(Debug)]
pub struct Assembly {
    sha256: String,
    chunk: usize,
    bytes: Vec<u8>,
    received: Vec<bool>,
    missing: usize,
}

/// A module's chunks, for the operator to publish.
pub fn split(wasm: &[u8], chunk: u32) -> impl Iterator<Item = &[u8]> {
    wasm.chunks(chunk.max(1) as usize)
}

impl Assembly {
    /// Room for a module of `size` bytes in chunks of `chunk`.
    pub fn new(sha256: &str, size: u64, chunk: u32) -> Self {
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        let chunk = (chunk as usize).max(1);
        let count = size.div_ceil(chunk).max(1);
        Self {
            sha256: sha256.to_owned(),
            chunk,
            bytes: vec![0; size],
            received: vec![false; count],
            missing: count,
        }
    }

    /// Takes chunk `index`; true when it was missing.
    ///
    /// # Errors
    ///
    /// An index past the last, or a chunk of the wrong size: not this
    /// module's (the chunks are not signed), left out.
    pub fn take(&mut self, index: u32, payload: &[u8]) -> Result<bool, String> {
        let index = index as usize;
        let Some(received) = self.received.get_mut(index) else {
            return Err(format!("chunk {index} of {}", self.missing));
        };
        let start = index * self.chunk;
        let end = (start + self.chunk).min(self.bytes.len());
        if payload.len() != end - start {
            return Err(format!(
                "chunk {index} is {} bytes, not {}",
                payload.len(),
                end - start
            ));
        }
        if *received {
            return Ok(false);
        }
        self.bytes[start..end].copy_from_slice(payload);
        *received = true;
        self.missing -= 1;
        Ok(true)
    }

    /// Whether every chunk is in.
    pub fn is_whole(&self) -> bool {
        self.missing == 0
    }

    /// Chunks still missing.
    pub fn missing(&self) -> usize {
        self.missing
    }

    /// The module, when its hash is the one named.
    ///
    /// # Errors
    ///
    /// Chunks missing, or another module.
    pub fn finish(self) -> Result<Vec<u8>, String> {
        if !self.is_whole() {
            return Err(format!("{} chunks missing", self.missing));
        }
        let sha = sha256(&self.bytes);
        if sha != self.sha256 {
            return Err(format!(
                "the module's chunks on the broker make {sha}, not {}",
                self.sha256
            ));
        }
        Ok(self.bytes)
    }
}

/// A module's content hash, in lower-case hex.
pub fn sha256(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_in_any_order_make_the_module_back() {
        let wasm: Vec<u8> = (0..2500u32).map(|i| i as u8).collect();
        let chunks: Vec<&[u8]> = split(&wasm, 1024).collect();
        assert_eq!(chunks.len(), 3);
        let mut assembly = Assembly::new(&sha256(&wasm), 2500, 1024);
        for index in [2, 0, 0, 1] {
            assert!(!assembly.is_whole());
            assembly.take(index, chunks[index as usize]).unwrap();
        }
        assert_eq!(assembly.finish().unwrap(), wasm);
    }

    #[test]
    fn wrong_chunks_and_wrong_modules_are_refused() {
        let wasm = vec![7u8; 2048];
        let mut assembly = Assembly::new(&sha256(&wasm), 2048, 1024);
        assert!(assembly.take(2, &wasm[..1024]).is_err());
        assert!(assembly.take(0, &wasm[..1000]).is_err());
        assembly.take(0, &wasm[..1024]).unwrap();
        assert_eq!(assembly.take(1, &[8u8; 1024]), Ok(true));
        assert_eq!(assembly.take(1, &[8u8; 1024]), Ok(false));
        assert!(assembly.finish().unwrap_err().contains("not"));
        let short = Assembly::new(&sha256(&wasm), 2048, 1024);
        assert_eq!(short.missing(), 2);
        assert!(short.finish().unwrap_err().contains("missing"));
    }
}
