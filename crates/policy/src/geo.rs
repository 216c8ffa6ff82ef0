//! Coordinates of a sign-in (from a GeoIP database the server reads) and the great-circle
//! distance between two of them, for the impossible-travel signal.

use serde::{Deserialize, Serialize};

/// A location in degrees. `f32` is about a metre of precision, far finer than any GeoIP answer.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    pub lat: f32,
    pub lon: f32,
}

/// Mean Earth radius (IUGG), in kilometres.
const EARTH_RADIUS_KM: f64 = 6371.0088;

impl GeoPoint {
    /// Great-circle distance by the haversine formula; within 0.5 % of the ellipsoid, plenty
    /// for telling a flight from a commute.
    pub fn distance_km(self, other: GeoPoint) -> f64 {
        let (lat1, lat2) = (f64::from(self.lat).to_radians(), f64::from(other.lat).to_radians());
        let d_lat = lat2 - lat1;
        let d_lon = (f64::from(other.lon) - f64::from(self.lon)).to_radians();
        let h = (d_lat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (d_lon / 2.0).sin().powi(2);
        // Rounding can push `h` a hair past 1 for antipodes; asin of that is NaN.
        2.0 * EARTH_RADIUS_KM * h.clamp(0.0, 1.0).sqrt().asin()
    }
}

#[cfg(test)]
pub(crate) mod cities {
    use super::GeoPoint;
    pub const HELSINKI: GeoPoint = GeoPoint { lat: 60.1699, lon: 24.9384 };
    pub const NEW_YORK: GeoPoint = GeoPoint { lat: 40.7128, lon: -74.0060 };
    pub const ESPOO: GeoPoint = GeoPoint { lat: 60.2055, lon: 24.6559 };
    pub const STOCKHOLM: GeoPoint = GeoPoint { lat: 59.3293, lon: 18.0686 };
}

#[cfg(test)]
mod tests {
    use super::cities::*;
    use super::*;

    #[test]
    fn distances_between_real_cities() {
        // Published great-circle figures: Helsinki–New York ≈ 6 620 km, Helsinki–Stockholm ≈ 396 km.
        let hel_nyc = HELSINKI.distance_km(NEW_YORK);
        assert!((6_560.0..6_680.0).contains(&hel_nyc), "{hel_nyc}");
        let hel_sto = HELSINKI.distance_km(STOCKHOLM);
        assert!((390.0..402.0).contains(&hel_sto), "{hel_sto}");
        assert!((HELSINKI.distance_km(NEW_YORK) - NEW_YORK.distance_km(HELSINKI)).abs() < 1e-9);
        assert_eq!(HELSINKI.distance_km(HELSINKI), 0.0);
    }

    #[test]
    fn antipodes_are_half_the_circumference() {
        let d = GeoPoint { lat: 0.0, lon: 0.0 }.distance_km(GeoPoint { lat: 0.0, lon: 180.0 });
        assert!((d - std::f64::consts::PI * EARTH_RADIUS_KM).abs() < 1.0, "{d}");
    }
}
