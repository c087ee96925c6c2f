//! Equivalence classes of a matrix's devices (as Schlögl et al. 2023 group platforms): two devices are equivalent
//! when each recomputes the other's log bit for bit, i.e. both of their cells have a largest L2 of exactly 0 over
//! every triple. Devices in one class give identical results on every job of the matrix; a cell not computed yet
//! (or NaN) joins nothing.
use super::CrossDeviceMatrix;

/// Letters name classes in tables: "A" for the class of the first device, then "B", ... ("A2", ... past "Z").
pub fn class_name(k: usize) -> String {
    let letter = (b'A' + (k % 26) as u8) as char;
    if k < 26 {
        letter.to_string()
    } else {
        format!("{letter}{}", k / 26 + 1)
    }
}

impl CrossDeviceMatrix {
    /// The class of each device, in device order: classes are numbered by their first device.
    pub fn classes(&self) -> Vec<usize> {
        let d = self.devices.len();
        let zero = |i: usize, j: usize| {
            self.cells
                .get(i)
                .and_then(|r| r.get(j))
                .and_then(|c| c.as_ref())
                .is_some_and(|c| c.summary.l2.max == 0.0 && c.summary.linf.max == 0.0)
        };
        let mut class: Vec<Option<usize>> = vec![None; d];
        let mut next = 0;
        for i in 0..d {
            if class[i].is_some() {
                continue;
            }
            class[i] = Some(next);
            for (j, cj) in class.iter_mut().enumerate().skip(i + 1) {
                if cj.is_none() && zero(i, j) && zero(j, i) {
                    *cj = Some(next);
                }
            }
            next += 1;
        }
        class.into_iter().map(|c| c.unwrap_or_default()).collect()
    }

    /// Each device's short name: its profile, or "profile @ host" where several devices share the profile.
    pub fn device_names(&self) -> Vec<String> {
        self.devices
            .iter()
            .map(|d| {
                let shared = self.devices.iter().filter(|e| e.profile.name == d.profile.name).count() > 1;
                if shared {
                    format!("{} @ {}", d.profile.name, d.fingerprint.hostname)
                } else {
                    d.profile.name.clone()
                }
            })
            .collect()
    }

    /// Each device's class name ("A", "B", ...), in device order.
    pub fn class_names(&self) -> Vec<String> {
        self.classes().into_iter().map(class_name).collect()
    }

    /// "A = {cpu-avx512, cpu-avx2}, B = {cpu-default}".
    pub fn classes_line(&self) -> String {
        let classes = self.classes();
        let names = self.device_names();
        let n = classes.iter().max().map_or(0, |m| m + 1);
        (0..n)
            .map(|k| {
                let members: Vec<&str> = names
                    .iter()
                    .zip(&classes)
                    .filter(|(_, c)| **c == k)
                    .map(|(d, _)| d.as_str())
                    .collect();
                format!("{} = {{{}}}", class_name(k), members.join(", "))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The same matrix with its devices reordered so that each class is contiguous (classes in order, devices in
    /// their original order within a class), for heatmaps.
    pub fn by_class(&self) -> CrossDeviceMatrix {
        let classes = self.classes();
        let mut order: Vec<usize> = (0..self.devices.len()).collect();
        order.sort_by_key(|&i| (classes[i], i));
        CrossDeviceMatrix {
            key: self.key.clone(),
            devices: order.iter().map(|&i| self.devices[i].clone()).collect(),
            cells: order
                .iter()
                .map(|&i| order.iter().map(|&j| self.cells[i][j].clone()).collect())
                .collect(),
        }
    }
}
