//! Interfaces and unions across federation subgraphs: an entity interface
//! one subgraph owns, its fields added by another subgraph through
//! `@interfaceObject` (one `_entities` call for every implementation, with
//! the interface's name as `__typename`), a union whose members come from
//! two subgraphs (each asked only fragments on types it knows), the same
//! through a supergraph file, the public schema, and composition mistakes
//! at their line.

use async_graphql::{
    EmptyMutation, EmptySubscription, ID, Interface, Object, Schema, SimpleObject, Union,
};
use serde_json::{Value, json};
use subgraphs::calls::CallLog;
use subgraphs::federated::{ROUTE_ENTITIES, ROUTE_QUERY, serve};
use weft::config::Config;
use weft_tests::{GatewayConfig, StubBackend, TestDir, TestGateway, line_of};

/// The media subgraph's SDL: it owns the entity interface `Media`.
const MEDIA_SDL: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@tag"])

type Query {
  media: [Media!]!
  search(text: String!): [SearchResult!]!
}

interface Media @key(fields: "id") {
  id: ID!
  title: String!
}

type Book implements Media @key(fields: "id") {
  id: ID!
  title: String!
  pages: Int! @tag(name: "public")
}

type Movie implements Media @key(fields: "id") {
  id: ID!
  title: String!
  minutes: Int!
}

union SearchResult = Book | Movie
"#;

/// The ratings subgraph's SDL: it adds `rating` to every `Media` and a
/// union member of its own.
const RATINGS_SDL: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@interfaceObject"])

type Query {
  critics: [SearchResult!]!
}

type Media @key(fields: "id") @interfaceObject {
  id: ID!
  rating: Int!
}

type Critic {
  name: String!
}

union SearchResult = Critic
"#;

#[derive(SimpleObject, Clone)]
struct Book {
    id: ID,
    title: String,
    pages: i32,
}

#[derive(SimpleObject, Clone)]
struct Movie {
    id: ID,
    title: String,
    minutes: i32,
}

#[derive(Interface)]
#[graphql(
    name = "Media",
    field(name = "id", ty = "&ID"),
    field(name = "title", ty = "&String")
)]
enum MediaItem {
    Book(Book),
    Movie(Movie),
}

#[derive(Union)]
#[graphql(name = "SearchResult")]
enum Found {
    Book(Book),
    Movie(Movie),
}

fn dune() -> Book {
    Book {
        id: "b-1".into(),
        title: "Dune".to_owned(),
        pages: 412,
    }
}

fn alien() -> Movie {
    Movie {
        id: "m-1".into(),
        title: "Alien".to_owned(),
        minutes: 117,
    }
}

struct MediaQuery;

#[Object]
impl MediaQuery {
    async fn media(&self) -> Vec<MediaItem> {
        vec![MediaItem::Book(dune()), MediaItem::Movie(alien())]
    }

    async fn search(&self, text: String) -> Vec<Found> {
        let _ = text;
        vec![Found::Movie(alien()), Found::Book(dune())]
    }
}

/// `Media` as the ratings subgraph sees it: an object with the key.
#[derive(SimpleObject)]
#[graphql(name = "Media")]
struct RatedMedia {
    id: ID,
    rating: i32,
}

#[derive(SimpleObject, Clone)]
struct Critic {
    name: String,
}

#[derive(Union)]
#[graphql(name = "SearchResult")]
enum Reviewer {
    Critic(Critic),
}

struct RatingsQuery;

#[Object]
impl RatingsQuery {
    async fn critics(&self) -> Vec<Reviewer> {
        vec![Reviewer::Critic(Critic {
            name: "Ebert".to_owned(),
        })]
    }

    #[graphql(entity)]
    async fn find_media_by_id(&self, id: ID) -> RatedMedia {
        let rating = if id.as_str() == "b-1" { 5 } else { 4 };
        RatedMedia { id, rating }
    }
}

/// Both subgraphs served on port 0, their calls counted, and a gateway
/// over them.
struct Federated {
    media_calls: CallLog,
    ratings_calls: CallLog,
    _media: StubBackend,
    _ratings: StubBackend,
    _dir: TestDir,
    gateway: TestGateway,
}

async fn subgraphs() -> (StubBackend, CallLog, StubBackend, CallLog) {
    let media_calls = CallLog::new();
    let media = Schema::build(MediaQuery, EmptyMutation, EmptySubscription)
        .enable_federation()
        .finish();
    let media_server = StubBackend::start(serve(media, media_calls.clone())).await;
    let ratings_calls = CallLog::new();
    let ratings = Schema::build(RatingsQuery, EmptyMutation, EmptySubscription)
        .enable_federation()
        .finish();
    let ratings_server = StubBackend::start(serve(ratings, ratings_calls.clone())).await;
    (media_server, media_calls, ratings_server, ratings_calls)
}

/// The config of a gateway over both subgraphs, with these SDLs written
/// into `dir`.
fn config(dir: &TestDir, servers: (&StubBackend, &StubBackend), sdls: (&str, &str)) -> Config {
    dir.write("media.graphql", sdls.0);
    dir.write("ratings.graphql", sdls.1);
    GatewayConfig::new("type Query\n")
        .subgraph(
            "media",
            &format!("{}/graphql", servers.0.url),
            "media.graphql",
        )
        .subgraph(
            "ratings",
            &format!("{}/graphql", servers.1.url),
            "ratings.graphql",
        )
        .load(dir)
        .unwrap_or_else(|problems| panic!("the config does not load:\n{problems}"))
}

/// A gateway over both subgraphs, each with its SDL from a file.
async fn start() -> Federated {
    let (media, media_calls, ratings, ratings_calls) = subgraphs().await;
    let dir = TestDir::new();
    let config = config(&dir, (&media, &ratings), (MEDIA_SDL, RATINGS_SDL));
    let gateway = TestGateway::started(&config).await;
    Federated {
        media_calls,
        ratings_calls,
        _media: media,
        _ratings: ratings,
        _dir: dir,
        gateway,
    }
}

const MEDIA_QUERY: &str =
    "{ media { __typename id title rating ... on Book { pages } ... on Movie { minutes } } }";

fn media_answer() -> Value {
    json!([
        { "__typename": "Book", "id": "b-1", "title": "Dune", "rating": 5, "pages": 412 },
        { "__typename": "Movie", "id": "m-1", "title": "Alien", "rating": 4, "minutes": 117 }
    ])
}

#[tokio::test]
async fn an_interface_objects_field_is_one_entities_call_for_every_implementation() {
    let federated = start().await;
    let body = federated.gateway.query(MEDIA_QUERY).await;
    assert_eq!(body.get("errors"), None, "{body}");
    assert_eq!(body["data"]["media"], media_answer());
    assert_eq!(federated.media_calls.count(ROUTE_QUERY), 1);
    assert_eq!(federated.media_calls.total(), 1);
    assert_eq!(federated.ratings_calls.count(ROUTE_ENTITIES), 1);
    assert_eq!(federated.ratings_calls.total(), 1);
}

#[tokio::test]
async fn a_union_with_members_from_two_subgraphs_asks_each_only_its_own_types() {
    let federated = start().await;
    let body = federated
        .gateway
        .query(
            r#"{ search(text: "a") { __typename ... on Book { title rating } ... on Movie { minutes } ... on Critic { name } }
                 critics { ... on Critic { name } ... on Book { title } } }"#,
        )
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    assert_eq!(
        body["data"],
        json!({
            "search": [
                { "__typename": "Movie", "minutes": 117 },
                { "__typename": "Book", "title": "Dune", "rating": 5 }
            ],
            "critics": [{ "name": "Ebert" }]
        })
    );
    // Only the book's rating is asked.
    assert_eq!(federated.ratings_calls.count(ROUTE_ENTITIES), 1);
    assert_eq!(federated.ratings_calls.count(ROUTE_QUERY), 1);
}

#[tokio::test]
async fn introspection_shows_the_interface_with_the_interface_objects_fields() {
    let federated = start().await;
    let body = federated
        .gateway
        .query(
            r#"{ media: __type(name: "Media") { kind fields { name } possibleTypes { name } }
                 union: __type(name: "SearchResult") { possibleTypes { name } } }"#,
        )
        .await;
    let names = |list: &Value| -> Vec<String> {
        let mut names: Vec<String> = list
            .as_array()
            .unwrap_or_else(|| panic!("a list: {body}"))
            .iter()
            .map(|item| item["name"].as_str().unwrap_or_default().to_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(body["data"]["media"]["kind"], "INTERFACE");
    assert_eq!(
        names(&body["data"]["media"]["fields"]),
        ["id", "rating", "title"]
    );
    assert_eq!(
        names(&body["data"]["media"]["possibleTypes"]),
        ["Book", "Movie"]
    );
    assert_eq!(
        names(&body["data"]["union"]["possibleTypes"]),
        ["Book", "Critic", "Movie"]
    );
    let sdl = federated.gateway.gateway.sdl();
    assert!(sdl.contains("interface Media {"), "{sdl}");
    assert!(sdl.contains("type Book implements Media {"), "{sdl}");
    assert!(
        sdl.contains("union SearchResult = Book | Movie | Critic"),
        "{sdl}"
    );
    for machinery in ["@tag", "@key", "@interfaceObject"] {
        assert!(
            !sdl.contains(machinery),
            "{machinery} in the public schema:\n{sdl}"
        );
    }
}

#[tokio::test]
async fn an_interface_object_without_its_interface_is_a_composition_error_at_its_line() {
    let (media, _, ratings, _) = subgraphs().await;
    let dir = TestDir::new();
    let media_sdl = MEDIA_SDL.replace("interface Media @key(fields: \"id\")", "interface Media");
    let config = config(&dir, (&media, &ratings), (&media_sdl, RATINGS_SDL));
    let ratings_path = dir.path().join("ratings.graphql");
    let problems = match TestGateway::start(&config).await {
        Ok(_) => panic!("the gateway built without the interface's key"),
        Err(problems) => problems.to_string(),
    };
    let at = format!(
        "{}:{}:",
        ratings_path.display(),
        line_of(RATINGS_SDL, "@interfaceObject {")
    );
    assert!(problems.contains(&at), "{problems}");
    assert!(
        problems.contains("`Media` is an @interfaceObject: another subgraph must define the interface `Media` with a resolvable @key"),
        "{problems}"
    );
}

/// The two subgraphs as a supergraph (as rover composes them), at `urls`.
fn supergraph(media_url: &str, ratings_url: &str) -> String {
    format!(
        r#"schema
  @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)
{{
  query: Query
}}

enum join__Graph {{
  MEDIA @join__graph(name: "media", url: "{media_url}")
  RATINGS @join__graph(name: "ratings", url: "{ratings_url}")
}}

interface Media
  @join__type(graph: MEDIA, key: "id")
  @join__type(graph: RATINGS, key: "id", isInterfaceObject: true)
{{
  id: ID!
  title: String! @join__field(graph: MEDIA)
  rating: Int! @join__field(graph: RATINGS)
}}

type Book implements Media
  @join__implements(graph: MEDIA, interface: "Media")
  @join__type(graph: MEDIA, key: "id")
{{
  id: ID!
  title: String!
  pages: Int!
  rating: Int! @join__field
}}

type Movie implements Media
  @join__implements(graph: MEDIA, interface: "Media")
  @join__type(graph: MEDIA, key: "id")
{{
  id: ID!
  title: String!
  minutes: Int!
  rating: Int! @join__field
}}

type Critic @join__type(graph: RATINGS) {{
  name: String!
}}

union SearchResult
  @join__type(graph: MEDIA)
  @join__type(graph: RATINGS)
  @join__unionMember(graph: MEDIA, member: "Book")
  @join__unionMember(graph: MEDIA, member: "Movie")
  @join__unionMember(graph: RATINGS, member: "Critic")
 = Book | Movie | Critic

type Query
  @join__type(graph: MEDIA)
  @join__type(graph: RATINGS)
{{
  media: [Media!]! @join__field(graph: MEDIA)
  search(text: String!): [SearchResult!]! @join__field(graph: MEDIA)
  critics: [SearchResult!]! @join__field(graph: RATINGS)
}}
"#
    )
}

#[tokio::test]
async fn a_supergraph_file_gives_the_same_answers_and_calls() {
    let (media, media_calls, ratings, ratings_calls) = subgraphs().await;
    let dir = TestDir::new();
    let text = supergraph(
        &format!("{}/graphql", media.url),
        &format!("{}/graphql", ratings.url),
    );
    dir.write("supergraph.graphql", &text);
    let path = dir.write("weft.toml", "[supergraph]\nfile = \"supergraph.graphql\"\n");
    let config = Config::load(&path).unwrap_or_else(|problems| panic!("{problems}"));
    let gateway = TestGateway::started(&config).await;
    let body = gateway.query(MEDIA_QUERY).await;
    assert_eq!(body.get("errors"), None, "{body}");
    assert_eq!(body["data"]["media"], media_answer());
    assert_eq!(media_calls.total(), 1);
    assert_eq!(ratings_calls.count(ROUTE_ENTITIES), 1);
    assert_eq!(ratings_calls.total(), 1);
    let body = gateway
        .query("{ critics { ... on Critic { name } ... on Movie { title } } }")
        .await;
    assert_eq!(
        body["data"]["critics"],
        json!([{ "name": "Ebert" }]),
        "{body}"
    );
}
