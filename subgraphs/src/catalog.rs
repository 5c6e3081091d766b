//! The catalog service: the gRPC `catalog.v1.Catalog` API over the seeded
//! products, and the generated protobuf code in [`proto`]. It serves gRPC
//! server reflection too ([`reflection_v1`], [`reflection_v1alpha`]), from
//! the descriptor set the build script writes ([`FILE_DESCRIPTOR_SET`]).
//!
//! Every call is counted in the [`CallLog`] under its method name
//! (`"GetProduct"`, `"BatchGetProducts"`, `"ListProducts"`, `"WatchStock"`).

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::calls::CallLog;
use crate::data::{self, Category, ProductRecord, Rng};
use proto::catalog_server::{Catalog, CatalogServer};
use proto::{
    BatchGetProductsRequest, BatchGetProductsResponse, GetProductRequest, GetProductResponse,
    ListProductsRequest, ListProductsResponse, StockLevel, WatchStockRequest,
};

/// Generated messages, client (`proto::catalog_client::CatalogClient`) and
/// server (`proto::catalog_server`) of the `catalog.v1` package.
pub mod proto {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    tonic::include_proto!("catalog.v1");
}

/// The encoded file descriptor set of `catalog/v1/catalog.proto` and its
/// imports, comments included, made at build time.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("catalog_descriptor");

/// The gRPC server reflection service (`grpc.reflection.v1`) over
/// [`FILE_DESCRIPTOR_SET`].
pub fn reflection_v1() -> Result<
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
    tonic_reflection::server::Error,
> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .build_v1()
}

/// The older `grpc.reflection.v1alpha` reflection service, for clients
/// that only speak it.
pub fn reflection_v1alpha() -> Result<
    tonic_reflection::server::v1alpha::ServerReflectionServer<
        impl tonic_reflection::server::v1alpha::ServerReflection,
    >,
    tonic_reflection::server::Error,
> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .build_v1alpha()
}

/// Route label of `GetProduct`.
pub const ROUTE_GET_PRODUCT: &str = "GetProduct";
/// Route label of `BatchGetProducts`.
pub const ROUTE_BATCH_GET_PRODUCTS: &str = "BatchGetProducts";
/// Route label of `ListProducts`.
pub const ROUTE_LIST_PRODUCTS: &str = "ListProducts";
/// Route label of `WatchStock`.
pub const ROUTE_WATCH_STOCK: &str = "WatchStock";

/// Page size of `ListProducts` when the request asks for 0.
pub const DEFAULT_PAGE_SIZE: usize = 20;
/// Largest page `ListProducts` answers; larger requests are clamped.
pub const MAX_PAGE_SIZE: usize = 100;
/// Time between two stock levels of a `WatchStock` stream by default.
pub const DEFAULT_STOCK_INTERVAL: Duration = Duration::from_millis(500);

/// The catalog gRPC service over [`data::products`].
#[derive(Debug, Clone)]
pub struct CatalogService {
    calls: CallLog,
    stock_interval: Duration,
}

impl CatalogService {
    /// A service counting calls in `calls` whose `WatchStock` streams send a
    /// new level every `stock_interval`.
    pub fn new(calls: CallLog, stock_interval: Duration) -> Self {
        Self {
            calls,
            stock_interval,
        }
    }
}

/// The tonic server for [`CatalogService::new`]`(calls, stock_interval)`,
/// ready for `tonic::transport::Server::add_service`.
pub fn server(calls: CallLog, stock_interval: Duration) -> CatalogServer<CatalogService> {
    CatalogServer::new(CatalogService::new(calls, stock_interval))
}

/// The protobuf form of a seeded product.
pub fn to_proto(product: &ProductRecord) -> proto::Product {
    proto::Product {
        sku: product.sku.clone(),
        name: product.name.clone(),
        price_cents: product.price_cents,
        category: category_to_proto(product.category).into(),
        tags: product.tags.clone(),
        dimensions: Some(proto::Dimensions {
            width_mm: product.dimensions.width_mm,
            height_mm: product.dimensions.height_mm,
            depth_mm: product.dimensions.depth_mm,
        }),
        created_at: Some(prost_types::Timestamp {
            seconds: product.created_at,
            nanos: 0,
        }),
    }
}

fn category_to_proto(category: Category) -> proto::Category {
    match category {
        Category::Books => proto::Category::Books,
        Category::Electronics => proto::Category::Electronics,
        Category::Garden => proto::Category::Garden,
        Category::Kitchen => proto::Category::Kitchen,
        Category::Toys => proto::Category::Toys,
    }
}

/// The product with this SKU; `INVALID_ARGUMENT` when the SKU is empty,
/// `NOT_FOUND` (`"product SKU-9999 not found"`) when there is none.
fn find_product(sku: &str) -> Result<&'static ProductRecord, Status> {
    if sku.is_empty() {
        return Err(Status::invalid_argument("sku must not be empty"));
    }
    data::product(sku).ok_or_else(|| Status::not_found(format!("product {sku} not found")))
}

/// The products named in `skus`: unknown SKUs left out, duplicates answered
/// once, in REVERSED request order on purpose so clients must match by SKU.
pub fn batch(skus: &[String]) -> Vec<proto::Product> {
    let mut seen = HashSet::new();
    skus.iter()
        .rev()
        .filter(|sku| seen.insert(sku.as_str()))
        .filter_map(|sku| data::product(sku))
        .map(to_proto)
        .collect()
}

/// One page of products ordered by SKU.
///
/// `page_size` 0 means [`DEFAULT_PAGE_SIZE`], larger than [`MAX_PAGE_SIZE`]
/// is clamped, negative is `INVALID_ARGUMENT`. `page_token` is empty for the
/// first page, otherwise a `next_page_token` from an earlier answer (an
/// opaque offset); anything else is `INVALID_ARGUMENT`. `next_page_token` is
/// empty on the last page.
pub fn page(request: &ListProductsRequest) -> Result<ListProductsResponse, Status> {
    let all = data::products();
    let size = usize::try_from(request.page_size)
        .map_err(|_| Status::invalid_argument("page_size must not be negative"))?;
    let size = if size == 0 {
        DEFAULT_PAGE_SIZE
    } else {
        size.min(MAX_PAGE_SIZE)
    };
    let start = parse_page_token(&request.page_token, all.len())?;
    let end = (start + size).min(all.len());
    let next_page_token = if end < all.len() {
        end.to_string()
    } else {
        String::new()
    };
    Ok(ListProductsResponse {
        products: all[start..end].iter().map(to_proto).collect(),
        next_page_token,
    })
}

fn parse_page_token(token: &str, len: usize) -> Result<usize, Status> {
    if token.is_empty() {
        return Ok(0);
    }
    token
        .parse::<usize>()
        .ok()
        .filter(|offset| *offset <= len)
        .ok_or_else(|| Status::invalid_argument(format!("invalid page_token {token:?}")))
}

/// A deterministic random walk of one product's stock level: every step
/// changes the level by 1 to 5 units and never goes below zero.
#[derive(Debug, Clone)]
pub struct StockWalk {
    rng: Rng,
    level: i32,
}

impl StockWalk {
    /// A walk starting at the product's initial stock, seeded by its SKU.
    pub fn new(product: &ProductRecord) -> Self {
        let seed = product.sku.bytes().fold(0x570C_u64, |hash, byte| {
            hash.wrapping_mul(0x100_0000_01B3) ^ u64::from(byte)
        });
        Self {
            rng: Rng::new(seed),
            level: product.initial_stock,
        }
    }

    /// The current level.
    pub fn level(&self) -> i32 {
        self.level
    }

    /// Moves to the next, different level and returns it.
    pub fn step(&mut self) -> i32 {
        let delta = i32::try_from(self.rng.between(1, 5)).expect("delta fits an i32");
        let down = self.rng.below(2) == 0;
        self.level = if down && self.level >= delta {
            self.level - delta
        } else {
            self.level + delta
        };
        self.level
    }
}

fn stock_level(sku: &str, available: i32) -> StockLevel {
    StockLevel {
        sku: sku.to_owned(),
        available,
        updated_at: Some(SystemTime::now().into()),
    }
}

/// Sends the current level, then a new one every `interval`, until the
/// receiving side (the client's stream) is gone.
async fn stream_stock(
    product: &'static ProductRecord,
    interval: Duration,
    sender: mpsc::Sender<Result<StockLevel, Status>>,
) {
    let mut walk = StockWalk::new(product);
    let mut level = walk.level();
    loop {
        if sender
            .send(Ok(stock_level(&product.sku, level)))
            .await
            .is_err()
        {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = sender.closed() => return,
        }
        level = walk.step();
    }
}

#[tonic::async_trait]
impl Catalog for CatalogService {
    async fn get_product(
        &self,
        request: Request<GetProductRequest>,
    ) -> Result<Response<GetProductResponse>, Status> {
        self.calls.record_with(
            ROUTE_GET_PRODUCT,
            &request.metadata().clone().into_headers(),
        );
        let product = find_product(&request.get_ref().sku)?;
        Ok(Response::new(GetProductResponse {
            product: Some(to_proto(product)),
        }))
    }

    async fn batch_get_products(
        &self,
        request: Request<BatchGetProductsRequest>,
    ) -> Result<Response<BatchGetProductsResponse>, Status> {
        self.calls.record_with(
            ROUTE_BATCH_GET_PRODUCTS,
            &request.metadata().clone().into_headers(),
        );
        let products = batch(&request.get_ref().skus);
        Ok(Response::new(BatchGetProductsResponse { products }))
    }

    async fn list_products(
        &self,
        request: Request<ListProductsRequest>,
    ) -> Result<Response<ListProductsResponse>, Status> {
        self.calls.record(ROUTE_LIST_PRODUCTS);
        page(request.get_ref()).map(Response::new)
    }

    type WatchStockStream = ReceiverStream<Result<StockLevel, Status>>;

    async fn watch_stock(
        &self,
        request: Request<WatchStockRequest>,
    ) -> Result<Response<Self::WatchStockStream>, Status> {
        self.calls.record(ROUTE_WATCH_STOCK);
        let product = find_product(&request.get_ref().sku)?;
        let (sender, receiver) = mpsc::channel(4);
        tokio::spawn(stream_stock(product, self.stock_interval, sender));
        Ok(Response::new(ReceiverStream::new(receiver)))
    }
}

#[cfg(test)]
mod tests {
    use super::proto::catalog_client::CatalogClient;
    use super::*;
    use crate::{RunningService, Service, SpawnOptions, spawn};
    use tonic::Code;
    use tonic::transport::Channel;

    async fn start(options: SpawnOptions) -> (RunningService, CatalogClient<Channel>) {
        let service = spawn(Service::Catalog, "127.0.0.1:0".parse().unwrap(), options).unwrap();
        let client = CatalogClient::connect(service.url()).await.unwrap();
        (service, client)
    }

    fn get(sku: &str) -> GetProductRequest {
        GetProductRequest { sku: sku.into() }
    }

    #[tokio::test]
    async fn gets_products() {
        let (service, mut client) = start(SpawnOptions::default()).await;
        let answer = client.get_product(get("SKU-0042")).await.unwrap();
        let product = answer.into_inner().product.unwrap();
        assert_eq!(product, to_proto(data::product("SKU-0042").unwrap()));
        assert_ne!(product.category, i32::from(proto::Category::Unspecified));
        let status = client.get_product(get("SKU-9999")).await.unwrap_err();
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(status.message(), "product SKU-9999 not found");
        let status = client.get_product(get("")).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(service.calls().count(ROUTE_GET_PRODUCT), 3);
    }

    #[tokio::test]
    async fn batch_is_reversed_without_missing() {
        let (service, mut client) = start(SpawnOptions::default()).await;
        let skus = ["SKU-0001", "SKU-9999", "SKU-0003", "SKU-0002", "SKU-0003"];
        let request = BatchGetProductsRequest {
            skus: skus.iter().map(ToString::to_string).collect(),
        };
        let answer = client.batch_get_products(request).await.unwrap();
        let got: Vec<_> = answer
            .into_inner()
            .products
            .into_iter()
            .map(|p| p.sku)
            .collect();
        assert_eq!(got, ["SKU-0003", "SKU-0002", "SKU-0001"]);
        assert_eq!(service.calls().count(ROUTE_BATCH_GET_PRODUCTS), 1);
    }

    #[tokio::test]
    async fn pages_through_all_products() {
        let (service, mut client) = start(SpawnOptions::default()).await;
        let mut skus = Vec::new();
        let mut page_token = String::new();
        loop {
            let request = ListProductsRequest {
                page_size: 30,
                page_token,
            };
            let answer = client.list_products(request).await.unwrap().into_inner();
            assert!(answer.products.len() <= 30);
            skus.extend(answer.products.into_iter().map(|p| p.sku));
            if answer.next_page_token.is_empty() {
                break;
            }
            page_token = answer.next_page_token;
        }
        let expected: Vec<_> = data::products().iter().map(|p| p.sku.clone()).collect();
        assert_eq!(skus, expected);
        assert_eq!(service.calls().count(ROUTE_LIST_PRODUCTS), 7);
        let bad = ListProductsRequest {
            page_size: 0,
            page_token: "nope".into(),
        };
        let status = client.list_products(bad).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
    }

    #[test]
    fn page_sizes_default_and_clamp() {
        let request = |page_size| ListProductsRequest {
            page_size,
            page_token: String::new(),
        };
        assert_eq!(page(&request(0)).unwrap().products.len(), DEFAULT_PAGE_SIZE);
        assert_eq!(page(&request(1000)).unwrap().products.len(), MAX_PAGE_SIZE);
        assert_eq!(
            page(&request(-1)).unwrap_err().code(),
            Code::InvalidArgument
        );
        let last = ListProductsRequest {
            page_size: 100,
            page_token: "150".into(),
        };
        let answer = page(&last).unwrap();
        assert_eq!(answer.products.len(), 50);
        assert!(answer.next_page_token.is_empty());
    }

    #[tokio::test]
    async fn watches_stock() {
        let options = SpawnOptions {
            stock_interval: Duration::from_millis(20),
            ..SpawnOptions::default()
        };
        let (service, mut client) = start(options).await;
        let request = WatchStockRequest {
            sku: "SKU-0007".into(),
        };
        let mut stream = client.watch_stock(request).await.unwrap().into_inner();
        let mut walk = StockWalk::new(data::product("SKU-0007").unwrap());
        let first = stream.message().await.unwrap().unwrap();
        assert_eq!(first.sku, "SKU-0007");
        assert_eq!(first.available, walk.level());
        assert!(first.updated_at.is_some());
        for _ in 0..3 {
            let next = stream.message().await.unwrap().unwrap();
            assert_eq!(next.available, walk.step());
        }
        let unknown = WatchStockRequest {
            sku: "SKU-9999".into(),
        };
        let status = client.watch_stock(unknown).await.unwrap_err();
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(service.calls().count(ROUTE_WATCH_STOCK), 2);
    }

    #[tokio::test]
    async fn kill_ends_open_streams() {
        let (service, mut client) = start(SpawnOptions::default()).await;
        let request = WatchStockRequest {
            sku: "SKU-0001".into(),
        };
        let mut stream = client.watch_stock(request).await.unwrap().into_inner();
        stream.message().await.unwrap().unwrap();
        let started = std::time::Instant::now();
        service.kill();
        assert!(started.elapsed() < Duration::from_secs(1));
        let next = tokio::time::timeout(Duration::from_secs(5), stream.message()).await;
        assert!(!matches!(next.expect("the stream ends"), Ok(Some(_))));
    }

    #[test]
    fn stock_never_goes_negative() {
        for product in data::products() {
            let mut walk = StockWalk::new(product);
            let mut previous = walk.level();
            for _ in 0..200 {
                let level = walk.step();
                assert!(level >= 0);
                assert_ne!(level, previous);
                previous = level;
            }
        }
    }
}
